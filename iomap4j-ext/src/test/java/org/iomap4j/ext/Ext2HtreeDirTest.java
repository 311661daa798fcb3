package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * htree (dir_index) directories built by {@code e2fsck -fyD}: read through their index, and when modified their
 * index is kept valid (the flag stays, as the kernel's ext4 driver keeps it on ext2 images with dir_index);
 * e2fsck stays clean and debugfs agrees with the listing.
 */
class Ext2HtreeDirTest {
    @TempDir
    Path tmp;

    @Test
    void indexedDirectoryIsReadByIndexAndStaysIndexedWhenModified() throws Exception {
        Path img = Ext2Tools.mke2fs(tmp.resolve("h.img"), 64L << 20, "-b", "1024", "-O", "dir_index");
        List<String> cmds = new ArrayList<>();
        cmds.add("mkdir big");
        cmds.add("cd big");
        for (int i = 0; i < 400; i++) {
            cmds.add("write /dev/null entry-with-a-longish-name-" + i);
        }
        Ext2Tools.debugfsScript(img, cmds, tmp);
        Ext2Tools.run("e2fsck", "-fyD", img.toString()); // builds the htree index (exit 1: "modified")
        Ext2Tools.assertFsckClean(img);
        assertThat(Ext2Tools.debugfs(img, "stat /big").ok().stdout()).contains("Flags: 0x1000");

        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults())) {
            long big = fs.lookupPath("/big").ino();
            assertSameEntriesAsDebugfs(fs, img, "/big", big);
            for (int i = 0; i < 400; i += 37) {
                assertThat(fs.lookup(big, "entry-with-a-longish-name-" + i).ino()).isPositive();
            }
            fs.unlink(big, "entry-with-a-longish-name-5");
            fs.mknod(big, "added", 0100644, 0, 0, 0);
            try {
                fs.lookup(big, "entry-with-a-longish-name-5");
                throw new AssertionError("unlinked entry still found");
            } catch (FsException e) {
                assertThat(e.errno()).isEqualTo(Errno.ENOENT);
            }
        }
        Ext2Tools.assertFsckClean(img);
        assertThat(Ext2Tools.debugfs(img, "stat /big").ok().stdout()).contains("Flags: 0x1000");
        try (ExtFileSystem fs = ExtFileSystem.mount(img, ExtMountOptions.defaults().withReadOnly(true))) {
            assertSameEntriesAsDebugfs(fs, img, "/big", fs.lookupPath("/big").ino());
        }
    }

    /** Our readdir (hash order for an indexed directory) lists the entries debugfs lists (block order). */
    private static void assertSameEntriesAsDebugfs(ExtFileSystem fs, Path img, String path, long dirIno) throws Exception {
        List<Ext2Tools.ListEntry> ours = new ArrayList<>();
        List<org.iomap4j.vfs.DirEntry> entries = new ArrayList<>();
        fs.readdir(dirIno, 0, e -> entries.add(e));
        for (org.iomap4j.vfs.DirEntry e : entries) {
            org.iomap4j.vfs.InodeAttr a = fs.getattr(e.ino());
            ours.add(new Ext2Tools.ListEntry(e.ino(), a.mode(), e.name(), a.sizeBytes()));
        }
        assertThat(ours).as("listing of " + path).containsExactlyInAnyOrderElementsOf(Ext2Tools.debugfsList(img, path));
    }
}
