package org.iomap4j.cli;

import picocli.CommandLine.Option;

/** Options every subcommand takes. */
final class CommonOptions {
    @Option(names = "--debug", description = "Print stack traces and protocol/debug logging.")
    boolean debug;
}
