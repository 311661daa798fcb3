package org.iomap4j.ext;

import org.iomap4j.Errno;
import org.iomap4j.FsException;

/**
 * The block mapping of an extent-mapped inode (EXT4_EXTENTS_FL) while no extent tree mapping is plugged into
 * {@link ExtFileSystem#blockMappingFor}: every access fails with EOPNOTSUPP naming the inode, so that i_block
 * (an extent header, not block pointers) is never read as an indirect map. Stateless.
 */
final class ExtentsUnserved implements ExtBlockMapping {
    static final ExtentsUnserved INSTANCE = new ExtentsUnserved();

    private ExtentsUnserved() {}

    private static FsException unserved(ExtInode inode) {
        return new FsException(Errno.EOPNOTSUPP, "inode " + inode.ino
                + " is extent-mapped (EXT4_EXTENTS_FL): extent trees are not served by this build");
    }

    @Override
    public long addressableBlocks() {
        return 1L << 32;
    }

    @Override
    public Run map(ExtInode inode, long lblk, long maxBlocks, boolean create) throws FsException {
        throw unserved(inode);
    }

    @Override
    public long freeFrom(ExtInode inode, long fromLblk) throws FsException {
        throw unserved(inode);
    }

    @Override
    public long freeRange(ExtInode inode, long fromLblk, long toLblk) throws FsException {
        throw unserved(inode);
    }
}
