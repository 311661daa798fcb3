/** The generic VFS layer between a filesystem and its front ends: inode cache, inode writeback, file helpers. */
package org.iomap4j.fs;
