package org.iomap4j.netfs;

import org.iomap4j.iomap.IomapInode;

/**
 * The inode of a netfs filesystem as {@link NetfsIomapOps} needs it: an {@link IomapInode} with its
 * {@link NetfsFile}. Its {@link IomapInode#setSizeBytes} must also call {@link NetfsFile#setSize}.
 */
public interface NetfsInode extends IomapInode {

    /**
     * The file's netfs state (one per open object).
     *
     * @return the netfs state
     */
    NetfsFile netfsFile();
}
