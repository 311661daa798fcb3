package org.iomap4j.testkit.contract;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.iomap4j.Errno;
import org.iomap4j.vfs.DirEntry;
import org.iomap4j.vfs.FileHandle;
import org.iomap4j.vfs.FileMode;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.Vfs;
import org.junit.jupiter.api.Test;

/**
 * The namespace half of {@link VfsContract}: lookup, create, mkdir, unlink, rmdir, rename (plain, over files and
 * directories, RENAME_NOREPLACE, RENAME_EXCHANGE, into its own subtree), link counts, symlinks and readdir offsets,
 * with the errnos of Linux (fs/namei.c: vfs_rename, vfs_rmdir, may_delete...). Abstract: run through
 * {@link VfsContract}.
 */
public abstract class VfsNamespaceCases extends VfsContractSupport {

    @Test
    void rootIsADirectoryListingDotAndDotDot() throws IOException {
        InodeAttr root = vfs.getattr(vfs.rootIno());
        assertThat(root.isDirectory()).isTrue();
        assertThat(root.ino()).isEqualTo(vfs.rootIno());
        Map<String, DirEntry> l = list(vfs.rootIno());
        assertThat(l.get(".").ino()).isEqualTo(vfs.rootIno());
        assertThat(l.get("..").ino()).as("the root is its own parent").isEqualTo(vfs.rootIno());
        assertThat(l.get(".").dtype()).isEqualTo(FileMode.DT_DIR);
    }

    @Test
    void lookupFindsWhatCreateMadeAndRefusesWithLinuxErrnos() throws IOException {
        InodeAttr f = file(work, "f", new byte[] {1, 2, 3});
        assertThat(f.isRegular()).isTrue();
        assertThat(f.mode() & FileMode.PERM_MASK).isEqualTo(0644);
        assertThat(f.nlink()).isEqualTo(1);
        assertThat(f.sizeBytes()).isEqualTo(3);
        assertThat(vfs.lookup(work, "f").ino()).isEqualTo(f.ino());
        assertThat(errno(() -> vfs.lookup(work, "missing"))).isEqualTo(Errno.ENOENT);
        assertThat(errno(() -> vfs.lookup(f.ino(), "x"))).isEqualTo(Errno.ENOTDIR);
    }

    @Test
    void namesUpTo255BytesAreFineLongerOnesEnametoolong() throws IOException {
        String max = "n".repeat(255);
        InodeAttr f = file(work, max, new byte[0]);
        assertThat(vfs.lookup(work, max).ino()).isEqualTo(f.ino());
        String tooLong = "n".repeat(256);
        assertThat(errno(() -> w().create(work, tooLong, 0644, Vfs.O_RDWR, 0, 0))).isEqualTo(Errno.ENAMETOOLONG);
        assertThat(errno(() -> ns().mkdir(work, tooLong, 0755, 0, 0))).isEqualTo(Errno.ENAMETOOLONG);
        assertThat(errno(() -> vfs.lookup(work, tooLong))).isIn(Errno.ENAMETOOLONG, Errno.ENOENT);
        assertThat(names(work)).containsExactly(max);
    }

    @Test
    void createWithExclRefusesAnExistingNameWithoutItOpensTheExistingFile() throws IOException {
        InodeAttr f = file(work, "f", new byte[] {7, 7});
        assertThat(errno(() -> w().create(work, "f", 0644, Vfs.O_RDWR | Vfs.O_CREAT | Vfs.O_EXCL, 0, 0)))
                .isEqualTo(Errno.EEXIST);
        Vfs.Created again = w().create(work, "f", 0600, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0);
        try {
            assertThat(again.attr().ino()).isEqualTo(f.ino());
            assertThat(read(again.handle(), 0, 10)).containsExactly(7, 7);
        } finally {
            vfs.release(again.handle());
        }
        long d = mkdir(work, "d");
        assertThat(errno(() -> w().create(work, "d", 0644, Vfs.O_RDWR | Vfs.O_CREAT | Vfs.O_EXCL, 0, 0)))
                .isEqualTo(Errno.EEXIST);
        assertThat(errno(() -> w().create(work, "d", 0644, Vfs.O_RDWR | Vfs.O_CREAT, 0, 0))).isEqualTo(Errno.EISDIR);
        assertThat(errno(() -> w().create(f.ino(), "x", 0644, Vfs.O_RDWR, 0, 0))).isEqualTo(Errno.ENOTDIR);
        assertThat(vfs.getattr(d).isDirectory()).isTrue();
    }

    @Test
    void mkdirCountsLinksAndRefusesExistingNames() throws IOException {
        int before = vfs.getattr(work).nlink();
        InodeAttr d = ns().mkdir(work, "d", 0750, 0, 0);
        assertThat(d.isDirectory()).isTrue();
        assertThat(d.mode() & FileMode.PERM_MASK).isEqualTo(0750);
        assertThat(d.nlink()).as("'.' and its name").isEqualTo(2);
        assertThat(vfs.getattr(work).nlink()).as("the child's '..'").isEqualTo(before + 1);
        assertThat(errno(() -> ns().mkdir(work, "d", 0755, 0, 0))).isEqualTo(Errno.EEXIST);
        InodeAttr f = file(work, "f", new byte[0]);
        assertThat(errno(() -> ns().mkdir(work, "f", 0755, 0, 0))).isEqualTo(Errno.EEXIST);
        assertThat(errno(() -> ns().mkdir(f.ino(), "x", 0755, 0, 0))).isEqualTo(Errno.ENOTDIR);
        Map<String, DirEntry> l = list(d.ino());
        assertThat(l.keySet()).containsExactlyInAnyOrder(".", "..");
        assertThat(l.get("..").ino()).isEqualTo(work);
        assertThat(l.get(".").ino()).isEqualTo(d.ino());
        assertThat(list(work).get("d").dtype()).isEqualTo(FileMode.DT_DIR);
        assertThat(list(work).get("f").dtype()).isEqualTo(FileMode.DT_REG);
    }

    @Test
    void unlinkAndRmdirRemoveNamesWithLinuxErrnos() throws IOException {
        file(work, "f", new byte[] {1});
        long d = mkdir(work, "d");
        file(d, "inner", new byte[0]);
        int links = vfs.getattr(work).nlink();
        assertThat(errno(() -> ns().unlink(work, "d"))).isEqualTo(Errno.EISDIR);
        assertThat(errno(() -> ns().rmdir(work, "f"))).isEqualTo(Errno.ENOTDIR);
        assertThat(errno(() -> ns().rmdir(work, "d"))).isEqualTo(Errno.ENOTEMPTY);
        assertThat(errno(() -> ns().unlink(work, "missing"))).isEqualTo(Errno.ENOENT);
        assertThat(errno(() -> ns().rmdir(work, "missing"))).isEqualTo(Errno.ENOENT);
        ns().unlink(work, "f");
        assertThat(errno(() -> vfs.lookup(work, "f"))).isEqualTo(Errno.ENOENT);
        ns().unlink(d, "inner");
        ns().rmdir(work, "d");
        assertThat(errno(() -> vfs.lookup(work, "d"))).isEqualTo(Errno.ENOENT);
        assertThat(vfs.getattr(work).nlink()).as("the removed child's '..' link").isEqualTo(links - 1);
        assertThat(names(work)).isEmpty();
    }

    @Test
    void hardLinksCountAndShareContents() throws IOException {
        InodeAttr f = file(work, "a", new byte[] {4, 5, 6});
        long d = mkdir(work, "d");
        InodeAttr l = ns().link(f.ino(), d, "b");
        assertThat(l.ino()).isEqualTo(f.ino());
        assertThat(l.nlink()).isEqualTo(2);
        assertThat(vfs.getattr(f.ino()).nlink()).isEqualTo(2);
        assertThat(vfs.lookup(d, "b").ino()).isEqualTo(f.ino());
        assertThat(errno(() -> ns().link(f.ino(), d, "b"))).isEqualTo(Errno.EEXIST);
        assertThat(errno(() -> ns().link(d, work, "dirlink"))).isEqualTo(Errno.EPERM);
        ns().unlink(work, "a");
        assertThat(vfs.getattr(f.ino()).nlink()).isEqualTo(1);
        assertThat(contents(f.ino())).containsExactly(4, 5, 6);
    }

    @Test
    void renameMovesNamesAndKeepsInodes() throws IOException {
        InodeAttr f = file(work, "f", new byte[] {1});
        long d1 = mkdir(work, "d1");
        long d2 = mkdir(work, "d2");
        ns().rename(work, "f", work, "g", 0);
        assertThat(names(work)).containsExactly("d1", "d2", "g");
        assertThat(vfs.lookup(work, "g").ino()).isEqualTo(f.ino());
        ns().rename(work, "g", d1, "h", 0);
        assertThat(vfs.lookup(d1, "h").ino()).isEqualTo(f.ino());
        assertThat(errno(() -> ns().rename(work, "g", work, "x", 0))).isEqualTo(Errno.ENOENT);
        // A directory moving between parents moves its ".." link.
        long sub = mkdir(d1, "sub");
        int n1 = vfs.getattr(d1).nlink();
        int n2 = vfs.getattr(d2).nlink();
        ns().rename(d1, "sub", d2, "sub2", 0);
        assertThat(vfs.getattr(d1).nlink()).isEqualTo(n1 - 1);
        assertThat(vfs.getattr(d2).nlink()).isEqualTo(n2 + 1);
        assertThat(list(sub).get("..").ino()).as("'..' of the moved directory").isEqualTo(d2);
        assertThat(vfs.getattr(sub).nlink()).isEqualTo(2);
        assertThat(contents(f.ino())).containsExactly(1);
    }

    @Test
    void renameOverExistingNamesReplacesOrRefusesAsLinux() throws IOException {
        InodeAttr a = file(work, "a", new byte[] {1});
        InodeAttr b = file(work, "b", new byte[] {2});
        long empty = mkdir(work, "empty");
        long full = mkdir(work, "full");
        file(full, "x", new byte[0]);
        long dir = mkdir(work, "dir");
        assertThat(errno(() -> ns().rename(work, "a", work, "empty", 0))).isEqualTo(Errno.EISDIR);
        assertThat(errno(() -> ns().rename(work, "dir", work, "b", 0))).isEqualTo(Errno.ENOTDIR);
        assertThat(errno(() -> ns().rename(work, "dir", work, "full", 0))).isEqualTo(Errno.ENOTEMPTY);
        assertThat(errno(() -> ns().rename(work, "a", work, "b", Vfs.RENAME_NOREPLACE))).isEqualTo(Errno.EEXIST);
        // File over file: the target's name now names the source; the target lost its only link.
        ns().rename(work, "a", work, "b", 0);
        assertThat(vfs.lookup(work, "b").ino()).isEqualTo(a.ino());
        assertThat(errno(() -> vfs.lookup(work, "a"))).isEqualTo(Errno.ENOENT);
        assertThat(contents(a.ino())).containsExactly(1);
        // Directory over an empty directory: the parent loses the replaced directory's ".." link.
        int links = vfs.getattr(work).nlink();
        ns().rename(work, "dir", work, "empty", 0);
        assertThat(vfs.lookup(work, "empty").ino()).isEqualTo(dir);
        assertThat(vfs.getattr(work).nlink()).isEqualTo(links - 1);
        assertThat(names(work)).containsExactly("b", "empty", "full");
        assertThat(b.ino()).isNotEqualTo(empty);
        // Renaming one hard link onto another of the same inode does nothing (POSIX).
        ns().link(a.ino(), work, "b2");
        ns().rename(work, "b", work, "b2", 0);
        assertThat(names(work)).contains("b", "b2");
        assertThat(vfs.getattr(a.ino()).nlink()).isEqualTo(2);
    }

    @Test
    void renameNoreplaceMovesOnlyToAFreeName() throws IOException {
        InodeAttr a = file(work, "a", new byte[] {1});
        ns().rename(work, "a", work, "free", Vfs.RENAME_NOREPLACE);
        assertThat(vfs.lookup(work, "free").ino()).isEqualTo(a.ino());
        assertThat(errno(() -> ns().rename(work, "free", work, "x",
                Vfs.RENAME_NOREPLACE | Vfs.RENAME_EXCHANGE))).isEqualTo(Errno.EINVAL);
    }

    @Test
    void renameExchangeSwapsFilesAndDirectoriesAcrossParents() throws IOException {
        long d1 = mkdir(work, "d1");
        long d2 = mkdir(work, "d2");
        InodeAttr f = file(d1, "f", new byte[] {9});
        long sub = mkdir(d2, "sub");
        int n1 = vfs.getattr(d1).nlink();
        int n2 = vfs.getattr(d2).nlink();
        exchangeOrSkip(d1, "f", d2, "sub");
        assertThat(vfs.lookup(d1, "f").ino()).isEqualTo(sub);
        assertThat(vfs.lookup(d2, "sub").ino()).isEqualTo(f.ino());
        assertThat(vfs.getattr(d1).nlink()).as("d1 gained a subdirectory").isEqualTo(n1 + 1);
        assertThat(vfs.getattr(d2).nlink()).as("d2 lost one").isEqualTo(n2 - 1);
        assertThat(list(sub).get("..").ino()).isEqualTo(d1);
        assertThat(list(d1).get("f").dtype()).isEqualTo(FileMode.DT_DIR);
        assertThat(list(d2).get("sub").dtype()).isEqualTo(FileMode.DT_REG);
        assertThat(errno(() -> ns().rename(d1, "f", d2, "missing", Vfs.RENAME_EXCHANGE))).isEqualTo(Errno.ENOENT);
    }

    /**
     * RENAME_EXCHANGE, or skips the case when the filesystem answers EINVAL: renameat2(2) lets a filesystem refuse
     * a flag it does not support with EINVAL (Linux's ext2 supports only RENAME_NOREPLACE: fs/ext2/namei.c).
     */
    private void exchangeOrSkip(long d1, String n1, long d2, String n2) throws IOException {
        try {
            ns().rename(d1, n1, d2, n2, Vfs.RENAME_EXCHANGE);
        } catch (org.iomap4j.FsException e) {
            org.junit.jupiter.api.Assumptions.assumeTrue(e.errno() != Errno.EINVAL,
                    "RENAME_EXCHANGE not supported (EINVAL)");
            throw e;
        }
    }

    @Test
    void aDirectoryCannotMoveIntoItsOwnSubtree() throws IOException {
        long a = mkdir(work, "a");
        long b = mkdir(a, "b");
        long c = mkdir(b, "c");
        assertThat(errno(() -> ns().rename(work, "a", c, "a", 0))).isEqualTo(Errno.EINVAL);
        assertThat(errno(() -> ns().rename(work, "a", a, "self", 0))).isEqualTo(Errno.EINVAL);
        assertThat(errno(() -> ns().rename(work, "a", b, "c", Vfs.RENAME_EXCHANGE))).isEqualTo(Errno.EINVAL);
        assertThat(names(work)).containsExactly("a");
        assertThat(list(c).get("..").ino()).isEqualTo(b);
    }

    @Test
    void symlinksKeepTheirTargetShortAndLong() throws IOException {
        String shortTarget = "../t";
        String longTarget = "/very/" + "long/".repeat(100) + "target";
        InodeAttr s = ns().symlink(work, "s", shortTarget, 0, 0);
        InodeAttr l = ns().symlink(work, "l", longTarget, 0, 0);
        assertThat(s.isSymlink()).isTrue();
        assertThat(s.sizeBytes()).isEqualTo(shortTarget.length());
        assertThat(l.sizeBytes()).isEqualTo(longTarget.length());
        assertThat(vfs.readlink(s.ino())).isEqualTo(shortTarget);
        assertThat(vfs.readlink(l.ino())).isEqualTo(longTarget);
        assertThat(list(work).get("s").dtype()).isEqualTo(FileMode.DT_LNK);
        InodeAttr f = file(work, "f", new byte[0]);
        assertThat(errno(() -> vfs.readlink(f.ino()))).isEqualTo(Errno.EINVAL);
        assertThat(errno(() -> vfs.readlink(work))).isEqualTo(Errno.EINVAL);
        assertThat(errno(() -> ns().symlink(work, "s", "x", 0, 0))).isEqualTo(Errno.EEXIST);
    }

    @Test
    void mknodMakesRegularFilesFifosAndDeviceNodes() throws IOException {
        InodeAttr reg = ns().mknod(work, "reg", FileMode.S_IFREG | 0640, 0, 0, 0);
        assertThat(reg.mode()).isEqualTo(FileMode.S_IFREG | 0640);
        assertThat(reg.nlink()).isEqualTo(1);
        FileHandle fh = vfs.open(reg.ino(), Vfs.O_RDWR);
        try {
            writeAt(fh, 0, new byte[] {3, 1, 4});
        } finally {
            vfs.release(fh);
        }
        assertThat(contents(reg.ino())).containsExactly(3, 1, 4);
        InodeAttr fifo = ns().mknod(work, "fifo", FileMode.S_IFIFO | 0600, 0, 0, 0);
        assertThat(fifo.mode()).isEqualTo(FileMode.S_IFIFO | 0600);
        long rdev = (8L << 8) | 1; // sda1, old encoding (major 8, minor 1)
        InodeAttr chr = ns().mknod(work, "chr", FileMode.S_IFCHR | 0600, rdev, 0, 0);
        assertThat(chr.rdev()).isEqualTo(rdev);
        assertThat(vfs.getattr(chr.ino()).rdev()).isEqualTo(rdev);
        Map<String, DirEntry> l = list(work);
        assertThat(l.get("fifo").dtype()).isEqualTo(FileMode.DT_FIFO);
        assertThat(l.get("chr").dtype()).isEqualTo(FileMode.DT_CHR);
        assertThat(l.get("reg").dtype()).isEqualTo(FileMode.DT_REG);
        assertThat(errno(() -> ns().mknod(work, "fifo", FileMode.S_IFIFO | 0600, 0, 0, 0))).isEqualTo(Errno.EEXIST);
    }

    @Test
    void readdirListsEveryEntryOnceWithStableOffsets() throws IOException {
        Map<String, Long> made = new HashMap<>();
        for (int i = 0; i < 150; i++) {
            String name = "entry-" + i + "-" + "x".repeat(i % 40);
            long ino = i % 10 == 0 ? mkdir(work, name) : file(work, name, new byte[0]).ino();
            made.put(name, ino);
        }
        Map<String, DirEntry> all = list(work);
        assertThat(names(work)).isEqualTo(new TreeSet<>(made.keySet()));
        for (Map.Entry<String, Long> e : made.entrySet()) {
            DirEntry d = all.get(e.getKey());
            assertThat(d.ino()).isEqualTo(e.getValue());
            assertThat(d.dtype()).isEqualTo(vfs.getattr(e.getValue()).isDirectory() ? FileMode.DT_DIR : FileMode.DT_REG);
        }
        // A second listing gives the same offsets.
        Map<String, DirEntry> again = list(work);
        for (String n : all.keySet()) {
            assertThat(again.get(n).nextOffset()).as("offset of '%s'", n).isEqualTo(all.get(n).nextOffset());
        }
        // Reading in small batches (the sink refusing the entry that does not fit) gives the same listing.
        List<String> batched = new ArrayList<>();
        long offset = 0;
        int calls = 0;
        while (true) {
            long[] next = {-1};
            int[] taken = {0};
            vfs.readdir(work, offset, e -> {
                if (taken[0] == 7) {
                    return false;
                }
                taken[0]++;
                batched.add(e.name());
                next[0] = e.nextOffset();
                return true;
            });
            if (taken[0] == 0) {
                break;
            }
            offset = next[0];
            assertThat(++calls).as("readdir makes progress").isLessThan(1000);
        }
        assertThat(batched).containsExactlyElementsOf(all.keySet());
        // Resuming from a saved offset after removals lists the remaining later entries, each once.
        List<String> order = new ArrayList<>(all.keySet());
        int cut = order.size() / 2;
        long resume = all.get(order.get(cut - 1)).nextOffset();
        Set<String> removed = new TreeSet<>();
        for (int i = 0; i < order.size(); i += 3) {
            String n = order.get(i);
            if (!n.equals(".") && !n.equals("..")) {
                if (vfs.getattr(made.get(n)).isDirectory()) {
                    ns().rmdir(work, n);
                } else {
                    ns().unlink(work, n);
                }
                removed.add(n);
            }
        }
        List<String> rest = new ArrayList<>();
        vfs.readdir(work, resume, e -> rest.add(e.name()));
        List<String> expected = new ArrayList<>(order.subList(cut, order.size()));
        expected.removeAll(removed);
        assertThat(rest).containsExactlyElementsOf(expected);
    }
}
