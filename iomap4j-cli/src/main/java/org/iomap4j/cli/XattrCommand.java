package org.iomap4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HexFormat;
import java.util.concurrent.Callable;
import org.iomap4j.Errno;
import org.iomap4j.FsException;
import org.iomap4j.vfs.InodeAttr;
import org.iomap4j.vfs.Vfs;
import org.iomap4j.vfs.VfsXattr;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code iomapfs xattr get|set|list|remove IMAGE:/PATH ...}: extended attributes (and POSIX ACLs as their
 * {@code system.posix_acl_*} values) of an inode in an image, with getfattr/setfattr's value encodings: text in
 * double quotes, {@code 0x} hex or {@code 0s} base64 (attr(5), getfattr(1)). Symlinks are not followed.
 */
@Command(name = "xattr", mixinStandardHelpOptions = true,
        description = "Get, set, list or remove extended attributes of a file inside an image (like getfattr/setfattr).",
        subcommands = {XattrCommand.Get.class, XattrCommand.Set.class, XattrCommand.ListNames.class,
            XattrCommand.Remove.class})
final class XattrCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return 2;
    }

    /** Decodes a setfattr value: {@code 0x...} hex, {@code 0s...} base64, else the text (quotes stripped). */
    static byte[] decodeValue(String v) {
        if (v.startsWith("0x") || v.startsWith("0X")) {
            try {
                return HexFormat.of().parseHex(v.substring(2));
            } catch (IllegalArgumentException e) {
                throw new UsageException("bad hex value: " + v);
            }
        }
        if (v.startsWith("0s") || v.startsWith("0S")) {
            try {
                return Base64.getDecoder().decode(v.substring(2));
            } catch (IllegalArgumentException e) {
                throw new UsageException("bad base64 value: " + v);
            }
        }
        if (v.length() >= 2 && v.startsWith("\"") && v.endsWith("\"")) {
            v = v.substring(1, v.length() - 1);
        }
        return v.getBytes(StandardCharsets.UTF_8);
    }

    /** getfattr's encodings: "text" (hex for values that are not printable), hex, base64. */
    static String encodeValue(byte[] v, String encoding) {
        switch (encoding) {
            case "hex" -> {
                return "0x" + HexFormat.of().formatHex(v);
            }
            case "base64" -> {
                return "0s" + Base64.getEncoder().encodeToString(v);
            }
            case "text" -> {
                int len = v.length > 0 && v[v.length - 1] == 0 ? v.length - 1 : v.length;
                for (int k = 0; k < len; k++) {
                    int c = v[k] & 0xff;
                    if (c < 0x20 && c != '\t' && c != '\n' || c == 0x7f || c == '"' || c == '\\') {
                        return "0x" + HexFormat.of().formatHex(v);
                    }
                }
                return "\"" + new String(v, 0, len, StandardCharsets.UTF_8) + "\"";
            }
            default -> throw new UsageException("unknown encoding '" + encoding + "' (text, hex, base64)");
        }
    }

    /** The image's VfsXattr (EOPNOTSUPP for a filesystem without one) and the target's inode. */
    record Target(VfsXattr xattrs, long ino) {
        static Target of(OpenImage img, ImagePath ip) throws IOException {
            Vfs vfs = img.vfs();
            VfsXattr x = vfs.capability(VfsXattr.class).orElseThrow(
                    () -> new FsException(Errno.EOPNOTSUPP, ip.image() + ": no extended attributes"));
            InodeAttr a = PathWalker.resolve(vfs, ip.innerPath(), false, ip.toString());
            return new Target(x, a.ino());
        }
    }

    /** What a subcommand does with the target and the output. */
    @FunctionalInterface
    interface Inspection {
        void run(Target t, PrintWriter out) throws IOException;
    }

    /** What a subcommand changes on the target. */
    @FunctionalInterface
    interface Change {
        void run(Target t) throws IOException;
    }

    /** Opens {@code target}'s image read-only for inspection (a mounted image gets a warning) and runs {@code op}. */
    static int inspect(CommandSpec spec, String target, Inspection op) throws IOException {
        ImagePath ip = ImagePath.requireOrRoot(target);
        PrintWriter out = spec.commandLine().getOut();
        try (OpenImage img = OpenImage.openForInspection(ip.image(), spec.commandLine().getErr())) {
            op.run(Target.of(img, ip), out);
        }
        out.flush();
        return 0;
    }

    /** Opens {@code target}'s image read-write (a mounted image is refused) and runs {@code op}. */
    static int modify(String target, Change op) throws IOException {
        ImagePath ip = ImagePath.requireOrRoot(target);
        try (OpenImage img = OpenImage.open(ip.image(), false)) {
            op.run(Target.of(img, ip));
        }
        return 0;
    }

    @Command(name = "get", mixinStandardHelpOptions = true, description = "Print one attribute's value (getfattr -n).")
    static final class Get implements Callable<Integer> {
        @Mixin
        CommonOptions common;
        @Spec
        CommandSpec spec;
        @Parameters(index = "0", paramLabel = "IMAGE:/PATH")
        String target;
        @Parameters(index = "1", paramLabel = "NAME", description = "Full name, e.g. user.comment.")
        String name;
        @Option(names = {"-e", "--encoding"}, defaultValue = "text", description = "text, hex or base64.")
        String encoding;
        @Option(names = "--only-values", description = "Print the raw value only.")
        boolean onlyValues;

        @Override
        public Integer call() throws IOException {
            return inspect(spec, target, (t, out) -> {
                byte[] v = t.xattrs().getxattr(t.ino(), name);
                if (onlyValues) {
                    out.print(new String(v, StandardCharsets.ISO_8859_1));
                } else {
                    out.println(name + "=" + encodeValue(v, encoding));
                }
            });
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true,
            description = "List attribute names, or with -d names and values (getfattr -d -m-).")
    static final class ListNames implements Callable<Integer> {
        @Mixin
        CommonOptions common;
        @Spec
        CommandSpec spec;
        @Parameters(index = "0", paramLabel = "IMAGE:/PATH")
        String target;
        @Option(names = {"-d", "--dump"}, description = "Print the values too.")
        boolean dump;
        @Option(names = {"-e", "--encoding"}, defaultValue = "text", description = "text, hex or base64.")
        String encoding;

        @Override
        public Integer call() throws IOException {
            return inspect(spec, target, (t, out) -> {
                java.util.List<String> names = new java.util.ArrayList<>(t.xattrs().listxattr(t.ino()));
                names.sort(null);
                for (String n : names) {
                    out.println(dump ? n + "=" + encodeValue(t.xattrs().getxattr(t.ino(), n), encoding) : n);
                }
            });
        }
    }

    @Command(name = "set", mixinStandardHelpOptions = true, description = "Set an attribute (setfattr -n -v).")
    static final class Set implements Callable<Integer> {
        @Mixin
        CommonOptions common;
        @Parameters(index = "0", paramLabel = "IMAGE:/PATH")
        String target;
        @Parameters(index = "1", paramLabel = "NAME")
        String name;
        @Parameters(index = "2", paramLabel = "VALUE", defaultValue = "",
                description = "Text, \"quoted text\", 0x<hex> or 0s<base64>; empty if omitted.")
        String value;
        @Option(names = "--create", description = "Fail if it exists (XATTR_CREATE).")
        boolean create;
        @Option(names = "--replace", description = "Fail if it does not exist (XATTR_REPLACE).")
        boolean replace;

        @Override
        public Integer call() throws IOException {
            byte[] v = decodeValue(value);
            int flags = (create ? VfsXattr.XATTR_CREATE : 0) | (replace ? VfsXattr.XATTR_REPLACE : 0);
            return modify(target, t -> t.xattrs().setxattr(t.ino(), name, v, flags));
        }
    }

    @Command(name = "remove", mixinStandardHelpOptions = true, description = "Remove an attribute (setfattr -x).")
    static final class Remove implements Callable<Integer> {
        @Mixin
        CommonOptions common;
        @Parameters(index = "0", paramLabel = "IMAGE:/PATH")
        String target;
        @Parameters(index = "1", paramLabel = "NAME")
        String name;

        @Override
        public Integer call() throws IOException {
            return modify(target, t -> t.xattrs().removexattr(t.ino(), name));
        }
    }
}
