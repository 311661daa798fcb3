package org.iomap4j.fuse;

import static org.iomap4j.fuse.FuseAbi.*;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.fuse.FuseIn.GetxattrIn;
import org.iomap4j.fuse.FuseIn.NameIn;
import org.iomap4j.fuse.FuseIn.SetxattrIn;
import org.iomap4j.vfs.VfsXattr;

/**
 * The node layer's extended-attribute rows (GETXATTR, LISTXATTR, SETXATTR, REMOVEXATTR) over {@link VfsXattr}. It
 * exists to keep the size-probe protocol of the xattr system calls (fs/xattr.c: size 0 asks for the length, a
 * smaller buffer is ERANGE) out of the filesystems and out of {@link NodeBridge}.
 *
 * <p>Without VfsXattr every row answers ENOSYS: the kernel then sets no_getxattr/no_setxattr/... and answers
 * EOPNOTSUPP itself from then on (fs/fuse/xattr.c), which ls and cp -a take as "no extended attributes".
 */
final class XattrOps {
    private XattrOps() {}

    static void register(Op<?>[] t, VfsXattr xattrs, NodeBridge bridge) {
        if (xattrs == null) {
            NodeBridge.put(t, Op.refuse(GETXATTR, "GETXATTR", Errno.ENOSYS.code()));
            NodeBridge.put(t, Op.refuse(LISTXATTR, "LISTXATTR", Errno.ENOSYS.code()));
            NodeBridge.put(t, Op.refuse(SETXATTR, "SETXATTR", Errno.ENOSYS.code()));
            NodeBridge.put(t, Op.refuse(REMOVEXATTR, "REMOVEXATTR", Errno.ENOSYS.code()));
            return;
        }
        NodeBridge.put(t, new Op<>(GETXATTR, "GETXATTR", GetxattrIn.SIZE, false, GetxattrIn::decode,
                (req, in, reply) -> sized(xattrs.getxattr(bridge.ino(req.nodeid), in.name()), in, reply)));
        NodeBridge.put(t, new Op<>(LISTXATTR, "LISTXATTR", GetxattrIn.SIZE, false, GetxattrIn::decodeList,
                (req, in, reply) -> {
                    ByteArrayOutputStream list = new ByteArrayOutputStream();
                    for (String name : xattrs.listxattr(bridge.ino(req.nodeid))) {
                        list.writeBytes(name.getBytes(StandardCharsets.UTF_8));
                        list.write(0);
                    }
                    sized(list.toByteArray(), in, reply);
                }));
        NodeBridge.put(t, new Op<>(SETXATTR, "SETXATTR", SetxattrIn.SIZE, false, SetxattrIn::decode,
                (req, in, reply) -> {
                    xattrs.setxattr(bridge.ino(req.nodeid), in.name(), in.value(), in.flags());
                    reply.empty();
                }));
        NodeBridge.put(t, new Op<>(REMOVEXATTR, "REMOVEXATTR", 1, false, NameIn::decode, (req, in, reply) -> {
            xattrs.removexattr(bridge.ino(req.nodeid), in.name());
            reply.empty();
        }));
    }

    /** Size 0: the length; else the bytes, ERANGE if they exceed the caller's buffer. */
    private static void sized(byte[] value, GetxattrIn in, Reply reply) throws FsException {
        if (in.sizeBytes() == 0) {
            reply.xattrSize(value.length);
        } else if (value.length > (in.sizeBytes() & 0xffffffffL) || value.length > reply.maxBodyBytes()) {
            throw new FsException(Errno.ERANGE, "xattr value of " + value.length + " bytes, buffer "
                    + (in.sizeBytes() & 0xffffffffL));
        } else {
            reply.bytes(value);
        }
    }
}
