/** A FUSE server over {@code /dev/fuse} (the kernel's protocol, spoken through FFM) serving any {@code Vfs}. */
module org.iomap4j.fuse {
    requires transitive org.iomap4j.core;
    requires java.management; // FuseWarmup reads the JIT's compilation time (CompilationMXBean)

    exports org.iomap4j.fuse;
}
