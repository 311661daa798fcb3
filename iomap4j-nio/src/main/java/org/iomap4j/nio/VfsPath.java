package org.iomap4j.nio;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.ProviderMismatchException;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * A path in a {@link VfsFileSystem}: '/'-separated names, absolute when it starts with '/', compared and hashed by
 * its string, like the JDK's Unix paths. A path is only a name: nothing here touches the filesystem except
 * {@link #toRealPath} and {@link #register}. The string is kept with redundant and trailing slashes removed; the
 * empty path has no names except the empty one (as the JDK's {@code Path.of("")}).
 */
final class VfsPath implements Path {
    private final VfsFileSystem fs;
    private final String path;
    /** Start offset of each name in {@link #path}. */
    private volatile int[] offsets;

    VfsPath(VfsFileSystem fs, String path) {
        this.fs = fs;
        this.path = path;
    }

    /** Joins and cleans {@code first} and {@code more} (empty strings skipped); NUL is an InvalidPathException. */
    static VfsPath of(VfsFileSystem fs, String first, String... more) {
        StringBuilder sb = new StringBuilder(first);
        for (String m : more) {
            if (!m.isEmpty()) {
                if (!sb.isEmpty()) {
                    sb.append('/');
                }
                sb.append(m);
            }
        }
        return new VfsPath(fs, clean(sb.toString()));
    }

    private static String clean(String s) {
        if (s.indexOf('\0') >= 0) {
            throw new InvalidPathException(s, "Nul character not allowed");
        }
        StringBuilder sb = new StringBuilder(s.length());
        char prev = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '/' && prev == '/') {
                continue;
            }
            sb.append(c);
            prev = c;
        }
        if (sb.length() > 1 && sb.charAt(sb.length() - 1) == '/') {
            sb.setLength(sb.length() - 1);
        }
        return sb.toString();
    }

    String pathString() {
        return path;
    }

    private int[] offsets() {
        int[] o = offsets;
        if (o == null) {
            List<Integer> l = new ArrayList<>();
            if (path.isEmpty()) {
                l.add(0); // the empty path has one (empty) name
            } else {
                for (int i = 0; i < path.length(); i++) {
                    if (path.charAt(i) != '/' && (i == 0 || path.charAt(i - 1) == '/')) {
                        l.add(i);
                    }
                }
            }
            o = l.stream().mapToInt(Integer::intValue).toArray();
            offsets = o;
        }
        return o;
    }

    private String name(int i) {
        int[] o = offsets();
        int end = i + 1 < o.length ? o[i + 1] - 1 : path.length();
        return path.substring(o[i], end);
    }

    /** The names of this path ("." and ".." included, nothing for the root or the empty path). */
    List<String> names() {
        if (path.isEmpty()) {
            return List.of();
        }
        List<String> l = new ArrayList<>();
        for (int i = 0; i < getNameCount(); i++) {
            l.add(name(i));
        }
        return l;
    }

    @Override
    public VfsFileSystem getFileSystem() {
        return fs;
    }

    @Override
    public boolean isAbsolute() {
        return path.startsWith("/");
    }

    @Override
    public Path getRoot() {
        return isAbsolute() ? fs.rootPath() : null;
    }

    @Override
    public Path getFileName() {
        if (path.isEmpty()) {
            return this;
        }
        if (path.equals("/")) {
            return null;
        }
        return new VfsPath(fs, name(getNameCount() - 1));
    }

    @Override
    public Path getParent() {
        int n = getNameCount();
        if (n == 0 || path.isEmpty()) {
            return null;
        }
        if (n == 1) {
            return isAbsolute() ? fs.rootPath() : null;
        }
        int start = offsets()[n - 1];
        return new VfsPath(fs, path.substring(0, start - 1));
    }

    @Override
    public int getNameCount() {
        return path.equals("/") ? 0 : offsets().length;
    }

    @Override
    public Path getName(int index) {
        if (index < 0 || index >= getNameCount()) {
            throw new IllegalArgumentException("name index " + index + " of " + getNameCount());
        }
        return new VfsPath(fs, name(index));
    }

    @Override
    public Path subpath(int beginIndex, int endIndex) {
        int n = getNameCount();
        if (beginIndex < 0 || beginIndex >= n || endIndex > n || beginIndex >= endIndex) {
            throw new IllegalArgumentException("subpath(" + beginIndex + ", " + endIndex + ") of " + n + " names");
        }
        return new VfsPath(fs, String.join("/", names().subList(beginIndex, endIndex)));
    }

    @Override
    public boolean startsWith(Path other) {
        if (!(other instanceof VfsPath o) || o.fs != fs) {
            return false;
        }
        if (o.isAbsolute() != isAbsolute()) {
            return false;
        }
        if (o.path.isEmpty()) {
            return path.isEmpty();
        }
        List<String> mine = names();
        List<String> theirs = o.names();
        return theirs.size() <= mine.size() && mine.subList(0, theirs.size()).equals(theirs);
    }

    @Override
    public boolean endsWith(Path other) {
        if (!(other instanceof VfsPath o) || o.fs != fs) {
            return false;
        }
        if (o.isAbsolute()) {
            return equals(o);
        }
        if (o.path.isEmpty()) {
            return path.isEmpty();
        }
        List<String> mine = names();
        List<String> theirs = o.names();
        return theirs.size() <= mine.size() && mine.subList(mine.size() - theirs.size(), mine.size()).equals(theirs);
    }

    @Override
    public Path normalize() {
        List<String> out = new ArrayList<>();
        for (String n : names()) {
            if (n.equals(".")) {
                continue;
            }
            if (n.equals("..")) {
                if (!out.isEmpty() && !out.getLast().equals("..")) {
                    out.removeLast();
                    continue;
                }
                if (isAbsolute()) {
                    continue; // "/.." is "/"
                }
            }
            out.add(n);
        }
        String s = (isAbsolute() ? "/" : "") + String.join("/", out);
        return s.equals(path) ? this : new VfsPath(fs, s);
    }

    @Override
    public Path resolve(Path other) {
        VfsPath o = check(other);
        if (o.isAbsolute()) {
            return o;
        }
        if (o.path.isEmpty()) {
            return this;
        }
        if (path.isEmpty()) {
            return o;
        }
        return new VfsPath(fs, path.equals("/") ? "/" + o.path : path + "/" + o.path);
    }

    @Override
    public Path relativize(Path other) {
        VfsPath o = check(other);
        if (o.isAbsolute() != isAbsolute()) {
            throw new IllegalArgumentException("'" + other + "' and '" + this + "': one is absolute, the other not");
        }
        if (equals(o)) {
            return new VfsPath(fs, "");
        }
        List<String> a = ((VfsPath) normalize()).names();
        List<String> b = ((VfsPath) o.normalize()).names();
        int common = 0;
        while (common < a.size() && common < b.size() && a.get(common).equals(b.get(common))) {
            common++;
        }
        List<String> out = new ArrayList<>();
        for (int i = common; i < a.size(); i++) {
            if (a.get(i).equals("..")) {
                throw new IllegalArgumentException("cannot relativize '" + other + "' against '" + this + "'");
            }
            out.add("..");
        }
        out.addAll(b.subList(common, b.size()));
        return new VfsPath(fs, String.join("/", out));
    }

    @Override
    public URI toUri() {
        try {
            String abs = ((VfsPath) toAbsolutePath()).path;
            String rawPath = new URI(null, null, abs, null).getRawPath();
            return new URI(fs.provider().getScheme() + ":" + fs.imageUri() + "!" + rawPath);
        } catch (URISyntaxException e) {
            throw new java.io.IOError(e);
        }
    }

    @Override
    public Path toAbsolutePath() {
        if (isAbsolute()) {
            return this;
        }
        return new VfsPath(fs, path.isEmpty() ? "/" : "/" + path);
    }

    /** The absolute path with symbolic links resolved (unless NOFOLLOW_LINKS) and no "." or ".."; the file exists. */
    @Override
    public Path toRealPath(LinkOption... options) throws IOException {
        boolean follow = !Arrays.asList(options).contains(LinkOption.NOFOLLOW_LINKS);
        return fs.namespace().realPath(this, follow);
    }

    @Override
    public WatchKey register(WatchService watcher, WatchEvent.Kind<?>[] events, WatchEvent.Modifier... modifiers)
            throws IOException {
        Objects.requireNonNull(watcher);
        if (!(watcher instanceof PollingWatchService ws) || ws.fileSystem() != fs) {
            throw new ProviderMismatchException("watch service of another file system");
        }
        return ws.register(this, events);
    }

    @Override
    public int compareTo(Path other) {
        return path.compareTo(((VfsPath) other).path);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VfsPath p && p.fs == fs && p.path.equals(path);
    }

    @Override
    public int hashCode() {
        return path.hashCode();
    }

    @Override
    public String toString() {
        return path;
    }

    /** {@code p} as a path of this file system, else ProviderMismatchException. */
    VfsPath check(Path p) {
        Objects.requireNonNull(p);
        if (!(p instanceof VfsPath v) || v.fs != fs) {
            throw new ProviderMismatchException("not a path of " + fs + ": " + p);
        }
        return v;
    }
}
