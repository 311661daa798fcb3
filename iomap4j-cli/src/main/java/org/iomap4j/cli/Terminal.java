package org.iomap4j.cli;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;
import java.lang.foreign.ValueLayout;

/** Whether a standard descriptor is a terminal: isatty(3), bound through the FFM API. */
final class Terminal {
    private static final MethodHandle ISATTY = Linker.nativeLinker().defaultLookup().find("isatty")
            .map(s -> Linker.nativeLinker().downcallHandle(s,
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT)))
            .orElse(null);

    private Terminal() {}

    /** True if standard error (fd 2) is a terminal; false if not, or if isatty cannot be called. */
    static boolean stderrIsTerminal() {
        return isatty(2);
    }

    static boolean isatty(int fd) {
        if (ISATTY == null) {
            return false;
        }
        try {
            return (int) ISATTY.invokeExact(fd) == 1;
        } catch (Throwable t) {
            return false;
        }
    }
}
