package org.iomap4j.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;

/** Runs {@code iomapfs} subcommands in-process and captures exit code, text output, errors and binary output. */
final class Cli {
    record Run(int exit, String out, String err, byte[] bytes) {
        @Override
        public String toString() {
            return "exit " + exit + "\nstdout:\n" + out + "\nstderr:\n" + err;
        }
    }

    private Cli() {}

    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        ByteArrayOutputStream bin = new ByteArrayOutputStream();
        int code = Main.commandLine(new PrintWriter(out, true), new PrintWriter(err, true), bin).execute(args);
        return new Run(code, out.toString(), err.toString(), bin.toByteArray());
    }
}
