package org.iomap4j.nio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.URI;
import java.nio.file.FileSystem;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.nio.file.ProviderMismatchException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Path semantics against an independent oracle: the JDK's own Unix paths (the default file system), operation by
 * operation over a set of path strings; and matchers against the default file system's glob and regex matchers.
 */
class VfsPathTest {
    @TempDir
    static Path tmp;
    static FileSystem fs;
    static final FileSystem HOST = java.nio.file.FileSystems.getDefault();

    static final List<String> PATHS = List.of("", "/", "a", "/a", "a/b", "/a/b", "a//b/", "/a/b/c", "./a", "a/.",
            "../a", "a/..", "/a/../b", "a/b/../../c", "/..", "..", ".", "a/./b/../c/.", "/x/y/z/../../w", "b/c",
            "/a/b/c/d", "c", "a/b/c", "/a/c", "dir with space/f", "ü/é");

    @BeforeAll
    static void open() throws IOException {
        fs = HostTools.create(tmp.resolve("paths.img"), 8 << 20);
    }

    @AfterAll
    static void close() throws IOException {
        fs.close();
    }

    private static void same(Function<Path, Object> op) {
        for (String s : PATHS) {
            Object mine = op.apply(fs.getPath(s));
            Object theirs = op.apply(HOST.getPath(s));
            assertThat(String.valueOf(mine)).as("'%s'", s).isEqualTo(String.valueOf(theirs));
        }
    }

    private interface PairOp {
        Object apply(Path a, Path b);
    }

    private static void samePairs(PairOp op) {
        for (String a : PATHS) {
            for (String b : PATHS) {
                Object mine;
                Object theirs;
                try {
                    theirs = op.apply(HOST.getPath(a), HOST.getPath(b));
                } catch (IllegalArgumentException e) {
                    theirs = "IAE";
                }
                try {
                    mine = op.apply(fs.getPath(a), fs.getPath(b));
                } catch (IllegalArgumentException e) {
                    mine = "IAE";
                }
                assertThat(String.valueOf(mine)).as("'%s' op '%s'", a, b).isEqualTo(String.valueOf(theirs));
            }
        }
    }

    @Test
    void singlePathOperationsMatchTheJdk() {
        same(Path::toString);
        same(Path::isAbsolute);
        same(Path::getRoot);
        same(Path::getFileName);
        same(Path::getParent);
        same(Path::getNameCount);
        same(Path::normalize);
        same(p -> p.isAbsolute() ? p.toAbsolutePath() : "-");
        assertThat(fs.getPath("a/b").toAbsolutePath()).hasToString("/a/b");
        assertThat(fs.getPath("").toAbsolutePath()).hasToString("/");
        same(p -> {
            List<String> names = new ArrayList<>();
            p.forEach(n -> names.add(n.toString()));
            return names;
        });
        same(p -> p.getNameCount() > 1 ? p.subpath(1, p.getNameCount()) : "-");
        same(p -> p.getNameCount() > 0 ? p.getName(0) : "-");
    }

    @Test
    void pairOperationsMatchTheJdk() {
        samePairs(Path::startsWith);
        samePairs(Path::endsWith);
        samePairs(Path::resolve);
        samePairs(Path::resolveSibling);
        samePairs(Path::equals);
        samePairs((a, b) -> Integer.signum(a.compareTo(b)));
        // relativize: the JDK's answers for normalized paths (unnormalized ones are implementation-specific)
        samePairs((a, b) -> a.normalize().relativize(b.normalize()));
    }

    @Test
    void uriRoundTripsThroughPathOf() throws IOException {
        for (String s : List.of("/", "/a/b", "/dir with space/f", "/ü/é", "/a#b?c%d")) {
            Path p = fs.getPath(s);
            URI u = p.toUri();
            assertThat(u.getScheme()).isEqualTo("ext");
            assertThat(u.toString()).startsWith("ext:" + tmp.resolve("paths.img").toRealPath().toUri() + "!/");
            assertThat(Path.of(u)).isEqualTo(p);
        }
        assertThat(fs.getPath("rel").toUri()).isEqualTo(fs.getPath("/rel").toUri());
    }

    @Test
    void badInputIsRefused() {
        assertThatThrownBy(() -> fs.getPath("a\0b")).isInstanceOf(InvalidPathException.class);
        assertThatThrownBy(() -> fs.getPath("/a").resolve(HOST.getPath("b")))
                .isInstanceOf(ProviderMismatchException.class);
        assertThatThrownBy(() -> fs.getPath("/a").relativize(fs.getPath("b")))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(fs.getPath("/a").startsWith(HOST.getPath("/a"))).isFalse();
    }

    @Test
    void matchersAgreeWithTheJdk() {
        List<String> globs = List.of("*.java", "**/*.java", "a/*/c", "a/**", "?.txt", "[abc]*", "[!a]*", "[a-c]?",
                "{foo,bar}.{txt,md}", "\\*", "*", "**", "a?b", "x[0-9][0-9]", "{a,b/c}*");
        List<String> names = List.of("A.java", "src/A.java", "a/b/c", "a/b/d/c", "a/x", "a", "1.txt", "12.txt",
                "apple", "banana", "zed", "b1", "c/", "foo.md", "bar.txt", "foo.java", "*", "x12", "x1a", "b/cd",
                "a.b", "axb", "a/b");
        for (String g : globs) {
            PathMatcher mine = fs.getPathMatcher("glob:" + g);
            PathMatcher theirs = HOST.getPathMatcher("glob:" + g);
            for (String n : names) {
                assertThat(mine.matches(fs.getPath(n))).as("glob %s vs %s", g, n)
                        .isEqualTo(theirs.matches(HOST.getPath(n)));
            }
        }
        PathMatcher re = fs.getPathMatcher("regex:.*\\.(java|md)");
        assertThat(re.matches(fs.getPath("x/y.java"))).isTrue();
        assertThat(re.matches(fs.getPath("x/y.txt"))).isFalse();
        assertThatThrownBy(() -> fs.getPathMatcher("nope:x")).isInstanceOf(UnsupportedOperationException.class);
    }
}
