package org.iomap4j.nio;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.FileAttributeView;
import java.nio.file.attribute.FileOwnerAttributeView;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.nio.file.attribute.UserPrincipal;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.SetAttr;
import org.iomap4j.vfs.Vfs;
import org.iomap4j.vfs.VfsXattr;

/**
 * The attribute views: "basic", "posix", "owner" and "unix" (the JDK's Linux names: {@code unix:ino},
 * {@code unix:mode}, {@code unix:nlink}, {@code unix:uid}, {@code unix:gid}, {@code unix:dev}, {@code unix:rdev},
 * {@code unix:ctime}), read from one {@link InodeAttr} and changed through {@link SetAttr}; {@code unix:dev} is 0
 * (the image is not a device of the host); and "user" ({@link UserXattrView}: the {@code user.} extended
 * attributes) when the mounted Vfs offers {@link VfsXattr} (otherwise {@link #view} returns null for it and
 * by-name access throws UnsupportedOperationException, as for "dos", which there is not).
 *
 * <p>Times: ext2 keeps seconds; a FileTime set is truncated to whole seconds. creationTime is the last-modified
 * time (ext2 has no birth time; the JDK on Linux does the same without statx birth time), and setting it is ignored.
 */
final class Attributes {
    private Attributes() {}

    static final Set<String> SUPPORTED_VIEWS = Set.of("basic", "posix", "unix", "owner");

    /** The views of a file system on {@code vfs}: {@link #SUPPORTED_VIEWS}, plus "user" with {@link VfsXattr}. */
    static Set<String> supportedViews(Vfs vfs) {
        if (vfs.capability(VfsXattr.class).isEmpty()) {
            return SUPPORTED_VIEWS;
        }
        Set<String> s = new java.util.HashSet<>(SUPPORTED_VIEWS);
        s.add("user");
        return Set.copyOf(s);
    }

    /** The user view of {@code t}, or null when the Vfs has no extended attributes. */
    private static UserXattrView userView(Target t) {
        return t.fs().vfs().capability(VfsXattr.class).map(x -> new UserXattrView(t, x)).orElse(null);
    }

    private static final List<String> BASIC = List.of("lastModifiedTime", "lastAccessTime", "creationTime", "size",
            "isRegularFile", "isDirectory", "isSymbolicLink", "isOther", "fileKey");
    private static final List<String> OWNER = List.of("owner");
    private static final List<String> POSIX = List.of("permissions", "owner", "group");
    private static final List<String> UNIX = List.of("mode", "ino", "dev", "rdev", "nlink", "uid", "gid", "ctime");

    /** Which file an attribute operation is on: how to resolve it, and its name for exceptions. */
    record Target(VfsFileSystem fs, Object name, VfsFileSystem.IoCall<Namespace.Loc> loc, boolean follow) {
        InodeAttr stat() throws IOException {
            return fs.op(name, null, () -> fs.namespace().stat(loc.call(), follow));
        }

        void set(SetAttr changes) throws IOException {
            fs.checkWritable();
            fs.op(name, null, () -> fs.namespace().setattr(loc.call(), follow, changes));
        }
    }

    /** Identity of a file: the image and the inode number. */
    record FileKey(String image, long ino) {
    }

    static <V extends FileAttributeView> V view(Target t, Class<V> type) {
        if (type == BasicFileAttributeView.class || type == PosixFileAttributeView.class
                || type == FileOwnerAttributeView.class) {
            String name = type == BasicFileAttributeView.class ? "basic"
                    : type == FileOwnerAttributeView.class ? "owner" : "posix";
            return type.cast(new View(t, name));
        }
        if (type == UserDefinedFileAttributeView.class) {
            return type.cast(userView(t));
        }
        return null;
    }

    static <A extends BasicFileAttributes> A read(Target t, Class<A> type) throws IOException {
        if (type == BasicFileAttributes.class || type == PosixFileAttributes.class) {
            return type.cast(new Attrs(t.stat(), t.fs().image().toString()));
        }
        throw new UnsupportedOperationException("attributes " + type.getName() + " not supported");
    }

    /** Readable attributes of one view, {@code "view:a,b"} or {@code "view:*"} ("basic" if no view is named). */
    static Map<String, Object> read(Target t, String spec) throws IOException {
        int colon = spec.indexOf(':');
        String viewName = colon < 0 ? "basic" : spec.substring(0, colon);
        String list = colon < 0 ? spec : spec.substring(colon + 1);
        if (viewName.equals("user")) {
            return readUser(t, list);
        }
        List<String> names = names(viewName);
        Attrs a = new Attrs(t.stat(), t.fs().image().toString());
        Map<String, Object> out = new LinkedHashMap<>();
        for (String n : list.split(",")) {
            if (n.equals("*")) {
                for (String each : names) {
                    out.put(each, value(a, each));
                }
            } else if (names.contains(n)) {
                out.put(n, value(a, n));
            } else {
                throw new IllegalArgumentException("'" + n + "' not recognized in view '" + viewName + "'");
            }
        }
        return out;
    }

    /** "user:a,b" or "user:*": each attribute's value as a byte[] (the JDK's Linux provider does the same). */
    private static Map<String, Object> readUser(Target t, String list) throws IOException {
        UserXattrView v = userView(t);
        if (v == null) {
            throw new UnsupportedOperationException("view 'user' not supported: the file system has no xattrs");
        }
        Map<String, Object> out = new LinkedHashMap<>();
        for (String n : list.split(",")) {
            for (String each : n.equals("*") ? v.list() : List.of(n)) {
                out.put(each, v.value(each));
            }
        }
        return out;
    }

    private static List<String> names(String view) {
        return switch (view) {
            case "basic" -> BASIC;
            case "owner" -> OWNER;
            case "posix" -> concat(BASIC, POSIX);
            case "unix" -> concat(concat(BASIC, POSIX), UNIX);
            default -> throw new UnsupportedOperationException("view '" + view + "' not supported");
        };
    }

    private static List<String> concat(List<String> a, List<String> b) {
        return java.util.stream.Stream.concat(a.stream(), b.stream()).toList();
    }

    private static Object value(Attrs a, String name) {
        InodeAttr i = a.attr;
        return switch (name) {
            case "lastModifiedTime" -> a.lastModifiedTime();
            case "lastAccessTime" -> a.lastAccessTime();
            case "creationTime" -> a.creationTime();
            case "size" -> a.size();
            case "isRegularFile" -> a.isRegularFile();
            case "isDirectory" -> a.isDirectory();
            case "isSymbolicLink" -> a.isSymbolicLink();
            case "isOther" -> a.isOther();
            case "fileKey" -> a.fileKey();
            case "permissions" -> a.permissions();
            case "owner" -> a.owner();
            case "group" -> a.group();
            case "mode" -> i.mode();
            case "ino" -> i.ino();
            case "dev" -> 0L;
            case "rdev" -> i.rdev();
            case "nlink" -> i.nlink();
            case "uid" -> i.uid();
            case "gid" -> i.gid();
            case "ctime" -> time(i.ctimeSec(), i.ctimeNsec());
            default -> throw new IllegalArgumentException(name);
        };
    }

    /** Sets one attribute by name: basic times, posix permissions/owner/group, owner, unix mode/uid/gid. */
    static void set(Target t, String spec, Object value) throws IOException {
        int colon = spec.indexOf(':');
        String viewName = colon < 0 ? "basic" : spec.substring(0, colon);
        String name = colon < 0 ? spec : spec.substring(colon + 1);
        if (viewName.equals("user")) {
            UserXattrView u = userView(t);
            if (u == null) {
                throw new UnsupportedOperationException("view 'user' not supported: the file system has no xattrs");
            }
            u.write(name, value instanceof byte[] b ? ByteBuffer.wrap(b) : ((ByteBuffer) value).duplicate());
            return;
        }
        if (!names(viewName).contains(name)) {
            throw new IllegalArgumentException("'" + name + "' not recognized in view '" + viewName + "'");
        }
        View v = new View(t, viewName);
        switch (name) {
            case "lastModifiedTime" -> v.setTimes((FileTime) value, null, null);
            case "lastAccessTime" -> v.setTimes(null, (FileTime) value, null);
            case "creationTime" -> v.setTimes(null, null, (FileTime) value);
            case "permissions" -> {
                @SuppressWarnings("unchecked")
                Set<PosixFilePermission> perms = (Set<PosixFilePermission>) value;
                v.setPermissions(perms);
            }
            case "owner" -> v.setOwner((UserPrincipal) value);
            case "group" -> v.setGroup((GroupPrincipal) value);
            case "mode" -> t.set(SetAttr.mode((Integer) value & 07777));
            case "uid" -> t.set(SetAttr.owner((Integer) value, null));
            case "gid" -> t.set(SetAttr.owner(null, (Integer) value));
            default -> throw new IllegalArgumentException("'" + name + "' cannot be set");
        }
    }

    /**
     * The permission bits of the "posix:permissions" (or "unix:permissions") attribute of a create call, or null.
     *
     * @throws UnsupportedOperationException for any other initial attribute
     */
    static Integer initialMode(FileAttribute<?>... attrs) {
        Integer mode = null;
        for (FileAttribute<?> a : attrs) {
            if (a.name().equals("posix:permissions") || a.name().equals("unix:permissions")) {
                @SuppressWarnings("unchecked")
                Set<PosixFilePermission> perms = (Set<PosixFilePermission>) a.value();
                mode = toMode(perms);
            } else {
                throw new UnsupportedOperationException("'" + a.name() + "' cannot be set initially");
            }
        }
        return mode;
    }

    static int toMode(Set<PosixFilePermission> perms) {
        int m = 0;
        for (PosixFilePermission p : perms) {
            m |= 0400 >> p.ordinal(); // OWNER_READ ... OTHERS_EXECUTE in rwxrwxrwx order
        }
        return m;
    }

    static Set<PosixFilePermission> toPermissions(int mode) {
        Set<PosixFilePermission> s = EnumSet.noneOf(PosixFilePermission.class);
        for (PosixFilePermission p : PosixFilePermission.values()) {
            if ((mode & (0400 >> p.ordinal())) != 0) {
                s.add(p);
            }
        }
        return s;
    }

    static FileTime time(long sec, int nsec) {
        return FileTime.from(sec * 1_000_000_000L + nsec, TimeUnit.NANOSECONDS);
    }

    /** PosixFileAttributes of one stat. */
    static final class Attrs implements PosixFileAttributes {
        final InodeAttr attr;
        private final String image;

        Attrs(InodeAttr attr, String image) {
            this.attr = attr;
            this.image = image;
        }

        @Override
        public FileTime lastModifiedTime() {
            return time(attr.mtimeSec(), attr.mtimeNsec());
        }

        @Override
        public FileTime lastAccessTime() {
            return time(attr.atimeSec(), attr.atimeNsec());
        }

        @Override
        public FileTime creationTime() {
            return lastModifiedTime();
        }

        @Override
        public boolean isRegularFile() {
            return attr.isRegular();
        }

        @Override
        public boolean isDirectory() {
            return attr.isDirectory();
        }

        @Override
        public boolean isSymbolicLink() {
            return attr.isSymlink();
        }

        @Override
        public boolean isOther() {
            return !attr.isRegular() && !attr.isDirectory() && !attr.isSymlink();
        }

        @Override
        public long size() {
            return attr.sizeBytes();
        }

        @Override
        public Object fileKey() {
            return new FileKey(image, attr.ino());
        }

        @Override
        public UserPrincipal owner() {
            return Principals.user(attr.uid());
        }

        @Override
        public GroupPrincipal group() {
            return Principals.group(attr.gid());
        }

        @Override
        public Set<PosixFilePermission> permissions() {
            return toPermissions(attr.mode());
        }
    }

    /** The basic, posix and owner view of one target. */
    static final class View implements PosixFileAttributeView {
        private final Target t;
        private final String name;

        View(Target t, String name) {
            this.t = t;
            this.name = name;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public PosixFileAttributes readAttributes() throws IOException {
            return new Attrs(t.stat(), t.fs().image().toString());
        }

        /**
         * With nanoseconds (the filesystem keeps what its inodes can hold: ext4's large inodes all of them, ext2's
         * whole seconds); a null time is left unchanged; creation time is ignored (not settable, as on Linux).
         */
        @Override
        public void setTimes(FileTime lastModifiedTime, FileTime lastAccessTime, FileTime createTime)
                throws IOException {
            if (lastModifiedTime == null && lastAccessTime == null) {
                return;
            }
            java.time.Instant m = lastModifiedTime == null ? null : lastModifiedTime.toInstant();
            java.time.Instant a = lastAccessTime == null ? null : lastAccessTime.toInstant();
            t.set(new SetAttr(null, null, null, null, a == null ? null : a.getEpochSecond(),
                    m == null ? null : m.getEpochSecond(), false, false, a == null ? 0 : a.getNano(),
                    m == null ? 0 : m.getNano(), null, 0));
        }

        @Override
        public void setPermissions(Set<PosixFilePermission> perms) throws IOException {
            t.set(SetAttr.mode(toMode(perms)));
        }

        @Override
        public void setGroup(GroupPrincipal group) throws IOException {
            t.set(SetAttr.owner(null, Principals.idOf(group)));
        }

        @Override
        public UserPrincipal getOwner() throws IOException {
            return Principals.user(t.stat().uid());
        }

        @Override
        public void setOwner(UserPrincipal owner) throws IOException {
            int id = Principals.idOf(owner);
            if (owner instanceof Principals.Id p && p.group()) {
                t.set(SetAttr.owner(null, id));
            } else {
                t.set(SetAttr.owner(id, null));
            }
        }
    }
}
