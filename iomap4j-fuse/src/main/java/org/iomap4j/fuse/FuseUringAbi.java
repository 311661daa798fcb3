package org.iomap4j.fuse;

/**
 * The FUSE-over-io_uring part of the kernel ABI (include/uapi/linux/fuse.h, protocol 7.42+; Linux 6.14+): the INIT
 * flag and the io_uring command opcodes. Struct layouts are in {@link FuseUringChannel}.
 */
final class FuseUringAbi {
    private FuseUringAbi() {}

    /**
     * INIT flag (bit 41, so in flags2 with FUSE_INIT_EXT): offered by the kernel when the fuse module's enable_uring
     * parameter is on; granted back, it makes the kernel hold new requests until every queue has a registered entry
     * (or a REGISTER fails, which turns io_uring off for the connection): fs/fuse/dev.c fuse_block_alloc.
     */
    static final long FUSE_OVER_IO_URING = 1L << 41;

    /** enum fuse_uring_cmd: sqe->cmd_op of an IORING_OP_URING_CMD on /dev/fuse. */
    static final int CMD_REGISTER = 1;
    static final int CMD_COMMIT_AND_FETCH = 2;

    /** The module parameter that enables FUSE over io_uring (fs/fuse/dev_uring.c, default N). */
    static final String ENABLE_URING_PARAM = "/sys/module/fuse/parameters/enable_uring";
}
