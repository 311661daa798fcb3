package org.iomap4j.ext;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;
import org.iomap4j.block.FileBlockDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** mkfs in Java checked by the oracles: e2fsck -fn, dumpe2fs, and a kernel loop mount. */
class Ext2FormatTest {
    @TempDir
    Path tmp;

    @ParameterizedTest(name = "bs={0} isz={1} sizeMiB={2} sparse={3}")
    @CsvSource({"1024,128,64,true", "1024,256,20,false", "2048,128,100,true", "2048,256,48,true",
        "4096,128,300,true", "4096,256,64,false", "4096,256,1,true"})
    void formattedImagePassesE2fsckAndDumpe2fs(int bs, int isz, int sizeMiB, boolean sparse) throws Exception {
        Path img = Ext2Tools.sparseImage(tmp.resolve("f.img"), sizeMiB << 20);
        UUID uuid = UUID.fromString("0b3e3b9e-7c55-4d3c-9a0e-3f9b0f6a1c11");
        ExtFormatOptions opts = ExtFormatOptions.defaults().withBlockSize(bs).withInodeSize(isz)
                .withSparseSuper(sparse).withLabel("vol" + bs).withUuid(uuid).withBytesPerInode(Math.max(bs, 8192));
        Superblock sb;
        try (FileBlockDevice dev = FileBlockDevice.open(img, false)) {
            sb = ExtFormat.format(dev, opts);
        }
        Ext2Tools.assertFsckClean(img);
        String dump = Ext2Tools.run("dumpe2fs", "-h", img.toString()).ok().stdout();
        assertThat(dump).contains("Filesystem volume name:   vol" + bs)
                .contains("Filesystem UUID:          " + uuid)
                .containsPattern("Block size:\\s+" + bs + "\n")
                .containsPattern("Inode size:\\s+" + isz + "\n")
                .containsPattern("Block count:\\s+" + sb.blocksCount() + "\n")
                .containsPattern("Free blocks:\\s+" + sb.freeBlocksCount() + "\n");
        assertThat(dump.contains("sparse_super")).isEqualTo(sparse);
        String ls = Ext2Tools.debugfs(img, "ls -l /").ok().stdout();
        assertThat(ls).contains("lost+found");
    }

    @Test
    void kernelMountsAFormattedImage() throws Exception {
        String why = Ext2Tools.loopMountUnavailableReason();
        org.junit.jupiter.api.Assumptions.assumeTrue(why == null, "kernel loop mount unavailable: " + why);
        Path img = Ext2Tools.sparseImage(tmp.resolve("k.img"), 32 << 20);
        try (FileBlockDevice dev = FileBlockDevice.open(img, false)) {
            ExtFormat.format(dev, ExtFormatOptions.defaults().withBlockSize(1024));
        }
        try (Ext2Tools.LoopMount m = Ext2Tools.LoopMount.mount(img, tmp, false)) {
            assertThat(Files.isDirectory(m.root().resolve("lost+found"))).isTrue();
            Files.writeString(m.root().resolve("hello.txt"), "hello from the kernel");
            Files.createDirectory(m.root().resolve("d"));
        }
        Ext2Tools.assertFsckClean(img);
        assertThat(Ext2Tools.debugfs(img, "cat /hello.txt").ok().stdout()).isEqualTo("hello from the kernel");
    }
}
