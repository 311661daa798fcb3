/**
 * {@link org.iomap4j.testkit.vfs.MemoryVfs}: an in-memory reference {@code Vfs} (core, write, namespace, fallocate,
 * seek) for tests and front ends, and a model other tests can compare a filesystem against.
 */
package org.iomap4j.testkit.vfs;
