package org.iomap4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.iomap4j.ext.Ext2Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code iomapfs xattr get|set|list|remove} without mounting, with debugfs's {@code ea_list}/{@code ea_get} as
 * the independent reader and {@code e2fsck -fn} after every change; value encodings as setfattr/getfattr; the
 * errors a user meets (missing attribute, unsupported namespace, bad hex).
 */
class CliXattrTest {
    @TempDir
    Path tmp;

    @Test
    void setGetListRemove_debugfsAgrees() throws Exception {
        Path img = Ext2Tools.mke2fs(tmp.resolve("x.img"), 8L << 20, "-I", "128");
        Path host = Files.writeString(tmp.resolve("f"), "data\n");
        assertThat(Cli.run("cp", host.toString(), img + ":/f").exit()).isZero();

        Cli.Run set = Cli.run("xattr", "set", img + ":/f", "user.comment", "hello");
        assertThat(set.exit()).as(set.toString()).isZero();
        assertThat(Cli.run("xattr", "set", img + ":/f", "user.bin", "0x00ff7f").exit()).isZero();
        assertThat(Cli.run("xattr", "set", img + ":/f", "user.b64", "0sAAEC").exit()).isZero();
        assertThat(Cli.run("xattr", "set", img + ":/f", "trusted.quoted", "\"two words\"").exit()).isZero();
        Ext2Tools.assertFsckClean(img);
        String ea = Ext2Tools.debugfs(img, "ea_list f").ok().stdout();
        assertThat(ea).contains("user.comment (5) = \"hello\"", "user.bin (3)", "user.b64 (3)",
                "trusted.quoted (9) = \"two words\"");

        assertThat(Cli.run("xattr", "get", img + ":/f", "user.comment").out()).isEqualTo("user.comment=\"hello\"\n");
        assertThat(Cli.run("xattr", "get", img + ":/f", "user.bin").out()).isEqualTo("user.bin=0x00ff7f\n");
        assertThat(Cli.run("xattr", "get", "-e", "base64", img + ":/f", "user.b64").out()).isEqualTo("user.b64=0sAAEC\n");
        assertThat(Cli.run("xattr", "list", img + ":/f").out())
                .isEqualTo("trusted.quoted\nuser.b64\nuser.bin\nuser.comment\n");

        Cli.Run create = Cli.run("xattr", "set", "--create", img + ":/f", "user.comment", "again");
        assertThat(create.exit()).isNotZero();
        assertThat(create.err()).contains("File exists");
        assertThat(Cli.run("xattr", "remove", img + ":/f", "user.comment").exit()).isZero();
        Cli.Run gone = Cli.run("xattr", "get", img + ":/f", "user.comment");
        assertThat(gone.exit()).isNotZero();
        assertThat(gone.err()).contains("No data available");
        Cli.Run ns = Cli.run("xattr", "set", img + ":/f", "os2.name", "v");
        assertThat(ns.exit()).isNotZero();
        assertThat(ns.err()).contains("Operation not supported");
        Cli.Run hex = Cli.run("xattr", "set", img + ":/f", "user.x", "0xZZ");
        assertThat(hex.exit()).isNotZero();
        assertThat(hex.err()).contains("bad hex");
        Ext2Tools.assertFsckClean(img);
        assertThat(Ext2Tools.debugfs(img, "ea_list f").ok().stdout()).doesNotContain("user.comment")
                .contains("user.bin");
    }
}
