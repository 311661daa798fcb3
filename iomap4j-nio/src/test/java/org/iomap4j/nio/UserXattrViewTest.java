package org.iomap4j.nio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystem;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.Map;
import org.iomap4j.testkit.vfs.MemoryVfs;
import org.iomap4j.vfs.VfsXattr;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The "user" attribute view over a Vfs with {@link VfsXattr} (the testkit's MemoryVfs; the oracle is the Vfs's own
 * xattr calls), and its absence over one without: the JDK's contract for UserDefinedFileAttributeView (list, size,
 * read, write, delete, by-name access as byte[]) mapped onto {@code user.} names.
 */
class UserXattrViewTest {
    @TempDir
    Path tmp;

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void userAttributesAreTheVfsUserXattrs() throws IOException {
        MemoryVfs mem = new MemoryVfs(64L << 20, 1000);
        try (FileSystem fs = new VfsFileSystem(new ExtFileSystemProvider(), tmp.resolve("memory"),
                new MountedVfs(mem, "memory", "", false, () -> { }), EnvOptions.of(Map.of()))) {
            Path p = fs.getPath("/f");
            Files.writeString(p, "data");
            long ino = (Long) Files.getAttribute(p, "unix:ino");
            assertThat(fs.supportedFileAttributeViews()).contains("user");
            assertThat(Files.getFileStore(p).supportsFileAttributeView("user")).isTrue();
            assertThat(Files.getFileStore(p).supportsFileAttributeView(UserDefinedFileAttributeView.class)).isTrue();
            UserDefinedFileAttributeView v = Files.getFileAttributeView(p, UserDefinedFileAttributeView.class);
            assertThat(v.name()).isEqualTo("user");
            assertThat(v.write("color", ByteBuffer.wrap(utf8("blue")))).isEqualTo(4);
            assertThat(mem.getxattr(ino, "user.color")).isEqualTo(utf8("blue"));
            mem.setxattr(ino, "trusted.hidden", new byte[] {1}, 0); // another namespace: not in the view
            assertThat(v.list()).containsExactly("color");
            assertThat(v.size("color")).isEqualTo(4);
            ByteBuffer dst = ByteBuffer.allocate(10);
            assertThat(v.read("color", dst)).isEqualTo(4);
            assertThat(dst.flip()).isEqualTo(ByteBuffer.wrap(utf8("blue")));
            assertThatThrownBy(() -> v.read("color", ByteBuffer.allocate(2))).isInstanceOf(IOException.class)
                    .hasMessageContaining("Insufficient space");
            Files.setAttribute(p, "user:n", utf8("one"));
            Files.setAttribute(p, "user:buf", ByteBuffer.wrap(utf8("two")));
            assertThat((byte[]) Files.getAttribute(p, "user:n")).isEqualTo(utf8("one"));
            Map<String, Object> all = Files.readAttributes(p, "user:*");
            assertThat(all.keySet()).containsExactlyInAnyOrder("color", "n", "buf");
            assertThat((byte[]) all.get("buf")).isEqualTo(utf8("two"));
            v.delete("color");
            assertThat(mem.listxattr(ino)).containsExactlyInAnyOrder("user.n", "user.buf", "trusted.hidden");
            assertThatThrownBy(() -> v.size("color")).isInstanceOf(FileSystemException.class)
                    .hasMessageContaining("No data available");
            assertThatThrownBy(() -> v.delete("color")).isInstanceOf(FileSystemException.class);
            assertThatThrownBy(() -> v.write("x".repeat(300), ByteBuffer.wrap(new byte[1])))
                    .isInstanceOf(FileSystemException.class);
            // the view of a directory, not following a link: the same calls on other inodes
            Files.createDirectory(fs.getPath("/d"));
            Files.createSymbolicLink(fs.getPath("/l"), fs.getPath("/d"));
            Files.getFileAttributeView(fs.getPath("/l"), UserDefinedFileAttributeView.class)
                    .write("on-dir", ByteBuffer.wrap(new byte[] {7}));
            assertThat(Files.getFileAttributeView(fs.getPath("/d"), UserDefinedFileAttributeView.class).list())
                    .containsExactly("on-dir");
            assertThat(Files.getFileAttributeView(fs.getPath("/l"), UserDefinedFileAttributeView.class,
                    LinkOption.NOFOLLOW_LINKS).list()).isEmpty();
        }
    }

    @Test
    void withoutVfsXattrThereIsNoUserView() throws Exception {
        Path image = tmp.resolve("disk.img");
        try (FileSystem fs = HostTools.create(image, 16 << 20)) {
            Path p = fs.getPath("/f");
            Files.writeString(p, "x");
            boolean has = fs.supportedFileAttributeViews().contains("user");
            UserDefinedFileAttributeView v = Files.getFileAttributeView(p, UserDefinedFileAttributeView.class);
            assertThat(v != null).as("the view exists exactly when the ext Vfs offers VfsXattr").isEqualTo(has);
            if (!has) {
                assertThatThrownBy(() -> Files.readAttributes(p, "user:*"))
                        .isInstanceOf(UnsupportedOperationException.class);
            } else {
                v.write("k", ByteBuffer.wrap(utf8("v")));
                assertThat((byte[]) Files.getAttribute(p, "user:k")).isEqualTo(utf8("v"));
            }
        }
        assertThat(HostTools.fsck(image).exit()).isZero();
    }
}
