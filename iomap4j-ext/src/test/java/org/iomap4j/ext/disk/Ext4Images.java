package org.iomap4j.ext.disk;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.iomap4j.CorruptFilesystemException;
import org.iomap4j.ext.Ext2Tools;

/**
 * Test support for the ext4 codec oracles: makes images with mkfs.ext4, reads raw structures off them through
 * the codecs under test, parses dumpe2fs output, loop-mounts them in the kernel's ext4 (unmounting on close), and
 * calls setxattr/getxattr through the JDK's FFM (so system.* xattrs need no attr/acl tools).
 */
final class Ext4Images {
    private Ext4Images() {}

    /** {@code mkfs.ext4 -q -F -O ^has_journal [opts] image}; {@code opts} may override with more -O. */
    static Path mkfs(Path image, long sizeBytes, String... opts) throws IOException {
        Ext2Tools.sparseImage(image, sizeBytes);
        List<String> cmd = new ArrayList<>(List.of("mkfs.ext4", "-q", "-F"));
        cmd.addAll(Arrays.asList(opts));
        cmd.add(image.toString());
        Ext2Tools.run(cmd.toArray(String[]::new)).ok();
        return image;
    }

    static byte[] read(Path image, long posBytes, int len) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "r")) {
            byte[] b = new byte[len];
            f.seek(posBytes);
            f.readFully(b);
            return b;
        }
    }

    static void write(Path image, long posBytes, byte[] b) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.seek(posBytes);
            f.write(b);
        }
    }

    static DiskSuperblock superblock(Path image) throws IOException {
        return DiskSuperblock.decode(read(image, DiskSuperblock.PRIMARY_OFFSET_BYTES, DiskSuperblock.SIZE), 0);
    }

    static byte[] block(Path image, DiskSuperblock sb, long pblk) throws IOException {
        return read(image, pblk * sb.blockSizeBytes(), sb.blockSizeBytes());
    }

    static long groupCount(DiskSuperblock sb) {
        return (sb.blocksCount() - sb.firstDataBlock() + sb.blocksPerGroup() - 1) / sb.blocksPerGroup();
    }

    /** Byte position of group {@code g}'s descriptor (flat layout, no meta_bg). */
    static long descPos(DiskSuperblock sb, long g) {
        long gdtBlock = sb.firstDataBlock() + 1;
        return gdtBlock * sb.blockSizeBytes() + g * sb.descSizeBytes();
    }

    static GroupDescriptor descriptor(Path image, DiskSuperblock sb, long g) throws IOException {
        return GroupDescriptor.decode(read(image, descPos(sb, g), sb.descSizeBytes()), 0, sb.descSizeBytes());
    }

    static long inodePos(Path image, DiskSuperblock sb, long ino) throws IOException {
        long g = (ino - 1) / sb.inodesPerGroup();
        long idx = (ino - 1) % sb.inodesPerGroup();
        return descriptor(image, sb, g).inodeTable() * sb.blockSizeBytes() + idx * sb.inodeSize();
    }

    static DiskInode inode(Path image, DiskSuperblock sb, long ino) throws IOException {
        return DiskInode.decode(read(image, inodePos(image, sb, ino), sb.inodeSize()), 0, sb.inodeSize());
    }

    /** All leaf extents of an extent-mapped inode, walking and validating every node. */
    static List<ExtentLeaf> extents(Path image, DiskSuperblock sb, long ino, List<Long> treeBlocks)
            throws IOException, CorruptFilesystemException {
        DiskInode inode = inode(image, sb, ino);
        byte[] iblock = inode.blockBytes();
        ExtentNode root = ExtentNode.decode(iblock, 0, 60, -1, sb.blocksCount(), "inode " + ino + " extent root");
        List<ExtentLeaf> out = new ArrayList<>();
        walk(image, sb, ino, root, out, treeBlocks);
        return out;
    }

    private static void walk(Path image, DiskSuperblock sb, long ino, ExtentNode node, List<ExtentLeaf> out,
            List<Long> treeBlocks) throws IOException, CorruptFilesystemException {
        if (node.depth() == 0) {
            out.addAll(node.leaves());
            return;
        }
        for (ExtentIndex idx : node.indexes()) {
            byte[] b = block(image, sb, idx.leafPblk());
            ExtentNode child = ExtentNode.decode(b, 0, b.length, node.depth() - 1, sb.blocksCount(),
                    "inode " + ino + " extent block " + idx.leafPblk());
            if (treeBlocks != null) {
                treeBlocks.add(idx.leafPblk());
            }
            walk(image, sb, ino, child, out, treeBlocks);
        }
    }

    /** The physical block of logical block {@code lblk} of an extent-mapped inode (-1 for a hole). */
    static long mapBlock(List<ExtentLeaf> extents, long lblk) {
        for (ExtentLeaf e : extents) {
            if (lblk >= e.lblk() && lblk < e.endLblk()) {
                return e.pblk() + (lblk - e.lblk());
            }
        }
        return -1;
    }

    /** "Key: value" lines of {@code dumpe2fs -h}. */
    static Map<String, String> dumpe2fsHeader(Path image) {
        String out = Ext2Tools.run("dumpe2fs", "-h", image.toString()).ok().stdout();
        Map<String, String> m = new LinkedHashMap<>();
        for (String line : out.split("\n")) {
            int i = line.indexOf(':');
            if (i > 0) {
                m.put(line.substring(0, i).trim(), line.substring(i + 1).trim());
            }
        }
        return m;
    }

    static String dumpe2fs(Path image) {
        return Ext2Tools.run("dumpe2fs", image.toString()).ok().stdout();
    }

    /** Why kernel ext4 loop mounts are unavailable, or null. */
    static String loopUnavailable() {
        String r = Ext2Tools.loopMountUnavailableReason();
        if (r != null) {
            return r;
        }
        try {
            return Files.readString(Path.of("/proc/filesystems")).contains("\text4") ? null : "no ext4 in the kernel";
        } catch (IOException e) {
            return e.getMessage();
        }
    }

    /** A kernel ext4 loop mount, unmounted on close. */
    static final class Mount implements AutoCloseable {
        final Path root;
        private boolean mounted;

        Mount(Path image, Path scratch) throws IOException {
            root = Files.createTempDirectory(scratch, "ext4disk-mnt");
            Ext2Tools.run("mount", "-t", "ext4", "-o", "loop", image.toString(), root.toString()).ok();
            mounted = true;
        }

        @Override
        public void close() {
            if (mounted) {
                mounted = false;
                Ext2Tools.run("umount", root.toString()).ok();
            }
        }
    }

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle SETXATTR = LINKER.downcallHandle(LINKER.defaultLookup().find("setxattr").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS,
                    ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT), Linker.Option.captureCallState("errno"));
    private static final MethodHandle GETXATTR = LINKER.downcallHandle(LINKER.defaultLookup().find("getxattr").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS,
                    ValueLayout.JAVA_LONG), Linker.Option.captureCallState("errno"));

    private static int errno(MemorySegment state) {
        return state.get(ValueLayout.JAVA_INT, Linker.Option.captureStateLayout().byteOffset(
                java.lang.foreign.MemoryLayout.PathElement.groupElement("errno")));
    }

    /** setxattr(2) through the kernel (the kernel converts ACL values to its on-disk format). */
    static void setxattr(Path p, String name, byte[] value) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment state = a.allocate(Linker.Option.captureStateLayout());
            MemorySegment v = a.allocate(Math.max(1, value.length));
            v.copyFrom(MemorySegment.ofArray(value));
            int rc = (int) SETXATTR.invokeExact(state, a.allocateFrom(p.toString()), a.allocateFrom(name), v,
                    (long) value.length, 0);
            if (rc != 0) {
                throw new AssertionError("setxattr " + p + " " + name + ": errno " + errno(state));
            }
        } catch (Throwable t) {
            throw t instanceof AssertionError ae ? ae : new AssertionError(t);
        }
    }

    /** getxattr(2) through the kernel. */
    static byte[] getxattr(Path p, String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment state = a.allocate(Linker.Option.captureStateLayout());
            MemorySegment buf = a.allocate(65536);
            long n = (long) GETXATTR.invokeExact(state, a.allocateFrom(p.toString()), a.allocateFrom(name), buf, 65536L);
            if (n < 0) {
                throw new AssertionError("getxattr " + p + " " + name + ": errno " + errno(state));
            }
            return buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE);
        } catch (Throwable t) {
            throw t instanceof AssertionError ae ? ae : new AssertionError(t);
        }
    }
}
