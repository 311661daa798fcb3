package org.iomap4j.nio;

import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.FileAttributeView;
import java.nio.file.attribute.FileOwnerAttributeView;
import java.nio.file.attribute.FileStoreAttributeView;
import java.nio.file.attribute.PosixFileAttributeView;
import org.iomap4j.vfs.StatFs;

/**
 * The one store of an image: space from the Vfs's statfs (total = data blocks, unallocated = free blocks, usable =
 * free blocks less the root reserve, all times the block size), type "ext2"/"ext3"/"ext4" from the superblock's
 * features, name = the volume label or else the image's file name.
 */
final class VfsFileStore extends FileStore {
    private final VfsFileSystem fs;
    private final MountedVfs mounted;

    VfsFileStore(VfsFileSystem fs, MountedVfs mounted) {
        this.fs = fs;
        this.mounted = mounted;
    }

    private StatFs statfs() throws IOException {
        return fs.op(fs.image(), null, () -> fs.vfs().statfs());
    }

    @Override
    public String name() {
        return mounted.label().isEmpty() ? fs.image().getFileName().toString() : mounted.label();
    }

    @Override
    public String type() {
        return mounted.type();
    }

    @Override
    public boolean isReadOnly() {
        return mounted.readOnly();
    }

    @Override
    public long getTotalSpace() throws IOException {
        StatFs s = statfs();
        return s.blocks() * s.blockSizeBytes();
    }

    @Override
    public long getUsableSpace() throws IOException {
        StatFs s = statfs();
        return s.availBlocks() * s.blockSizeBytes();
    }

    @Override
    public long getUnallocatedSpace() throws IOException {
        StatFs s = statfs();
        return s.freeBlocks() * s.blockSizeBytes();
    }

    @Override
    public long getBlockSize() throws IOException {
        return statfs().blockSizeBytes();
    }

    @Override
    public boolean supportsFileAttributeView(Class<? extends FileAttributeView> type) {
        return type == BasicFileAttributeView.class || type == PosixFileAttributeView.class
                || type == FileOwnerAttributeView.class
                || (type == java.nio.file.attribute.UserDefinedFileAttributeView.class
                        && Attributes.supportedViews(fs.vfs()).contains("user"));
    }

    @Override
    public boolean supportsFileAttributeView(String name) {
        return Attributes.supportedViews(fs.vfs()).contains(name);
    }

    @Override
    public <V extends FileStoreAttributeView> V getFileStoreAttributeView(Class<V> type) {
        return null;
    }

    /** "totalSpace", "usableSpace", "unallocatedSpace", "blockSize" (optionally prefixed "basic:"). */
    @Override
    public Object getAttribute(String attribute) throws IOException {
        String a = attribute.startsWith("basic:") ? attribute.substring(6) : attribute;
        return switch (a) {
            case "totalSpace" -> getTotalSpace();
            case "usableSpace" -> getUsableSpace();
            case "unallocatedSpace" -> getUnallocatedSpace();
            case "blockSize" -> getBlockSize();
            default -> throw new UnsupportedOperationException("file store attribute '" + attribute + "'");
        };
    }

    @Override
    public String toString() {
        return fs.image() + " (" + type() + ")";
    }
}
