package org.iomap4j.iomap;

import java.util.Objects;
import org.iomap4j.block.BlockDevice;

/**
 * One mapping of file bytes {@code [offsetBytes, offsetBytes + lengthBytes)} to storage, as returned by
 * {@link IomapOps#iomapBegin} (the kernel's {@code struct iomap}).
 *
 * <p>Immutable but for the core-set flag bits ({@link IomapFlags#CORE_MASK}), which only the iterator that owns
 * the mapping changes. A filesystem builds one with {@link #builder(IomapType, long, long)}.
 *
 * <p>Invariants checked at construction (a failure is an {@link IllegalArgumentException}: a filesystem bug):
 * offset &ge; 0, length &gt; 0; MAPPED and UNWRITTEN have a device address &ge; 0 and a device; INLINE carries at
 * least {@code lengthBytes} inline bytes; fs flags stay inside {@link IomapFlags#FS_MASK}.
 */
public final class Iomap {
    /** Device address of a mapping that has no storage (HOLE, DELALLOC, INLINE). */
    public static final long NULL_ADDR = -1;

    private final long offsetBytes;
    private final long lengthBytes;
    private final long addrBytes;
    private final IomapType type;
    private final int fsFlags;
    private final BlockDevice device;
    private final byte[] inlineData;
    private final long validityCookie;
    private final Iomap srcmap;
    private final Object fsPrivate;
    private int coreFlags;

    private Iomap(Builder b) {
        if (b.offsetBytes < 0 || b.lengthBytes <= 0 || b.offsetBytes + b.lengthBytes < 0) {
            throw new IllegalArgumentException(
                    "iomap range [" + b.offsetBytes + ", +" + b.lengthBytes + ") is empty or negative");
        }
        if ((b.flags & ~IomapFlags.FS_MASK) != 0) {
            throw new IllegalArgumentException("filesystem set core-only iomap flags " + IomapFlags.toString(b.flags));
        }
        if ((b.type == IomapType.MAPPED || b.type == IomapType.UNWRITTEN)
                && (b.addrBytes < 0 || b.device == null)) {
            throw new IllegalArgumentException(b.type + " iomap at " + b.offsetBytes + " needs an address and a device");
        }
        if (b.type == IomapType.INLINE && (b.inlineData == null || b.inlineData.length < b.lengthBytes)) {
            throw new IllegalArgumentException("INLINE iomap at " + b.offsetBytes + " lacks its inline bytes");
        }
        this.offsetBytes = b.offsetBytes;
        this.lengthBytes = b.lengthBytes;
        this.addrBytes = (b.type == IomapType.MAPPED || b.type == IomapType.UNWRITTEN) ? b.addrBytes : NULL_ADDR;
        this.type = b.type;
        this.fsFlags = b.flags;
        this.device = b.device;
        this.inlineData = b.inlineData;
        this.validityCookie = b.validityCookie;
        this.srcmap = b.srcmap;
        this.fsPrivate = b.fsPrivate;
    }

    /** Starts a mapping of {@code [offsetBytes, offsetBytes + lengthBytes)} of the given type. */
    public static Builder builder(IomapType type, long offsetBytes, long lengthBytes) {
        return new Builder(Objects.requireNonNull(type), offsetBytes, lengthBytes);
    }

    /** A HOLE over {@code [offsetBytes, offsetBytes + lengthBytes)}. */
    public static Iomap hole(long offsetBytes, long lengthBytes, long validityCookie) {
        return builder(IomapType.HOLE, offsetBytes, lengthBytes).validityCookie(validityCookie).build();
    }

    /** A MAPPED run at device byte address {@code addrBytes}. */
    public static Iomap mapped(long offsetBytes, long lengthBytes, BlockDevice device, long addrBytes, int fsFlags,
            long validityCookie) {
        return builder(IomapType.MAPPED, offsetBytes, lengthBytes).device(device).addrBytes(addrBytes)
                .flags(fsFlags).validityCookie(validityCookie).build();
    }

    /** File byte offset of the first mapped byte. */
    public long offsetBytes() {
        return offsetBytes;
    }

    /** Length of the mapping in bytes (&gt; 0). */
    public long lengthBytes() {
        return lengthBytes;
    }

    /** Exclusive end: {@code offsetBytes + lengthBytes}. */
    public long endBytes() {
        return offsetBytes + lengthBytes;
    }

    /** Device byte address of {@link #offsetBytes()}, or {@link #NULL_ADDR}. */
    public long addrBytes() {
        return addrBytes;
    }

    /** Device byte address of file byte {@code posBytes}, which must lie inside the mapping. */
    public long addrOf(long posBytes) {
        if (posBytes < offsetBytes || posBytes >= endBytes() || addrBytes == NULL_ADDR) {
            throw new IllegalArgumentException("position " + posBytes + " has no address in " + this);
        }
        return addrBytes + (posBytes - offsetBytes);
    }

    public IomapType type() {
        return type;
    }

    /** Filesystem-reported flags ({@link IomapFlags#FS_MASK}) together with core-set ones. */
    public int flags() {
        return fsFlags | coreFlags;
    }

    public boolean hasFlag(int flag) {
        return (flags() & flag) != 0;
    }

    /** The device holding the data (null for HOLE/DELALLOC/INLINE unless the filesystem set one). */
    public BlockDevice device() {
        return device;
    }

    /** Inline bytes for INLINE mappings: byte i is file byte {@code offsetBytes + i}; null otherwise. */
    public byte[] inlineData() {
        return inlineData;
    }

    /** The filesystem's validity cookie (e.g. a block-map sequence number) for {@link IomapOps#iomapValid}. */
    public long validityCookie() {
        return validityCookie;
    }

    /** The copy-on-write source mapping, or null. Reads and zeroing decisions use it; writes go to this one. */
    public Iomap srcmap() {
        return srcmap;
    }

    /** Opaque filesystem data carried from iomapBegin to iomapEnd. */
    public Object fsPrivate() {
        return fsPrivate;
    }

    /** Sets a core-only flag ({@link IomapFlags#SIZE_CHANGED} or {@link IomapFlags#STALE}). Core use only. */
    public void setCoreFlag(int flag) {
        if ((flag & ~IomapFlags.CORE_MASK) != 0) {
            throw new IllegalArgumentException("not a core iomap flag: " + flag);
        }
        coreFlags |= flag;
    }

    /** True if this mapping covers file byte {@code posBytes}. */
    public boolean covers(long posBytes) {
        return posBytes >= offsetBytes && posBytes < endBytes();
    }

    @Override
    public String toString() {
        return "Iomap[" + type + " " + offsetBytes + "+" + lengthBytes
                + (addrBytes != NULL_ADDR ? " @" + addrBytes : "")
                + (flags() != 0 ? " " + IomapFlags.toString(flags()) : "")
                + " cookie=" + validityCookie + (srcmap != null ? " src=" + srcmap : "") + "]";
    }

    /** Builder for {@link Iomap}; see the class invariants. */
    public static final class Builder {
        private final IomapType type;
        private final long offsetBytes;
        private final long lengthBytes;
        private long addrBytes = NULL_ADDR;
        private int flags;
        private BlockDevice device;
        private byte[] inlineData;
        private long validityCookie;
        private Iomap srcmap;
        private Object fsPrivate;

        private Builder(IomapType type, long offsetBytes, long lengthBytes) {
            this.type = type;
            this.offsetBytes = offsetBytes;
            this.lengthBytes = lengthBytes;
        }

        public Builder addrBytes(long addrBytes) {
            this.addrBytes = addrBytes;
            return this;
        }

        public Builder flags(int fsFlags) {
            this.flags = fsFlags;
            return this;
        }

        public Builder device(BlockDevice device) {
            this.device = device;
            return this;
        }

        public Builder inlineData(byte[] inlineData) {
            this.inlineData = inlineData;
            return this;
        }

        public Builder validityCookie(long validityCookie) {
            this.validityCookie = validityCookie;
            return this;
        }

        public Builder srcmap(Iomap srcmap) {
            this.srcmap = srcmap;
            return this;
        }

        public Builder fsPrivate(Object fsPrivate) {
            this.fsPrivate = fsPrivate;
            return this;
        }

        public Iomap build() {
            return new Iomap(this);
        }
    }
}
