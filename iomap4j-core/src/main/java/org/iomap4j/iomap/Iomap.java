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

    /**
     * Starts a mapping of {@code [offsetBytes, offsetBytes + lengthBytes)} of the given type.
     *
     * @param type the mapping type
     * @param offsetBytes file byte offset of the first mapped byte
     * @param lengthBytes length in bytes (&gt; 0)
     * @return a builder; set the address, device, flags and cookie, then {@link Builder#build()}
     */
    public static Builder builder(IomapType type, long offsetBytes, long lengthBytes) {
        return new Builder(Objects.requireNonNull(type), offsetBytes, lengthBytes);
    }

    /**
     * A HOLE over {@code [offsetBytes, offsetBytes + lengthBytes)}.
     *
     * @param offsetBytes file byte offset of the hole
     * @param lengthBytes length in bytes (&gt; 0)
     * @param validityCookie the filesystem's cookie for {@link IomapOps#iomapValid}
     * @return the mapping
     */
    public static Iomap hole(long offsetBytes, long lengthBytes, long validityCookie) {
        return builder(IomapType.HOLE, offsetBytes, lengthBytes).validityCookie(validityCookie).build();
    }

    /**
     * A MAPPED run at device byte address {@code addrBytes}.
     *
     * @param offsetBytes file byte offset of the first mapped byte
     * @param lengthBytes length in bytes (&gt; 0)
     * @param device the device holding the data
     * @param addrBytes device byte address of {@code offsetBytes}
     * @param fsFlags filesystem flags ({@link IomapFlags#FS_MASK} bits)
     * @param validityCookie the filesystem's cookie for {@link IomapOps#iomapValid}
     * @return the mapping
     */
    public static Iomap mapped(long offsetBytes, long lengthBytes, BlockDevice device, long addrBytes, int fsFlags,
            long validityCookie) {
        return builder(IomapType.MAPPED, offsetBytes, lengthBytes).device(device).addrBytes(addrBytes)
                .flags(fsFlags).validityCookie(validityCookie).build();
    }

    /**
     * File byte offset of the first mapped byte.
     *
     * @return the file byte offset
     */
    public long offsetBytes() {
        return offsetBytes;
    }

    /**
     * Length of the mapping in bytes (&gt; 0).
     *
     * @return the length in bytes
     */
    public long lengthBytes() {
        return lengthBytes;
    }

    /**
     * Exclusive end: {@code offsetBytes + lengthBytes}.
     *
     * @return the exclusive end, a file byte offset
     */
    public long endBytes() {
        return offsetBytes + lengthBytes;
    }

    /**
     * Device byte address of {@link #offsetBytes()}, or {@link #NULL_ADDR}.
     *
     * @return the device byte address, or {@link #NULL_ADDR}
     */
    public long addrBytes() {
        return addrBytes;
    }

    /**
     * Device byte address of file byte {@code posBytes}, which must lie inside the mapping.
     *
     * @param posBytes a file byte offset inside {@code [offsetBytes, endBytes)}
     * @return the device byte address of {@code posBytes}
     */
    public long addrOf(long posBytes) {
        if (posBytes < offsetBytes || posBytes >= endBytes() || addrBytes == NULL_ADDR) {
            throw new IllegalArgumentException("position " + posBytes + " has no address in " + this);
        }
        return addrBytes + (posBytes - offsetBytes);
    }

    /** {@return the mapping type (HOLE, DELALLOC, MAPPED, UNWRITTEN, INLINE)} */
    public IomapType type() {
        return type;
    }

    /**
     * Filesystem-reported flags ({@link IomapFlags#FS_MASK}) together with core-set ones.
     *
     * @return the flag bits
     */
    public int flags() {
        return fsFlags | coreFlags;
    }

    /**
     * {@return true if {@code flag} is set in {@link #flags()}}
     *
     * @param flag an {@link IomapFlags} bit
     */
    public boolean hasFlag(int flag) {
        return (flags() & flag) != 0;
    }

    /**
     * The device holding the data (null for HOLE/DELALLOC/INLINE unless the filesystem set one).
     *
     * @return the device, or null
     */
    public BlockDevice device() {
        return device;
    }

    /**
     * Inline bytes for INLINE mappings: byte i is file byte {@code offsetBytes + i}; null otherwise.
     *
     * @return the inline bytes (shared, not copied), or null
     */
    public byte[] inlineData() {
        return inlineData;
    }

    /**
     * The filesystem's validity cookie (e.g. a block-map sequence number) for {@link IomapOps#iomapValid}.
     *
     * @return the cookie the filesystem set at iomapBegin
     */
    public long validityCookie() {
        return validityCookie;
    }

    /**
     * The copy-on-write source mapping, or null. Reads and zeroing decisions use it; writes go to this one.
     *
     * @return the source mapping, or null
     */
    public Iomap srcmap() {
        return srcmap;
    }

    /**
     * Opaque filesystem data carried from iomapBegin to iomapEnd.
     *
     * @return the filesystem's object, or null
     */
    public Object fsPrivate() {
        return fsPrivate;
    }

    /**
     * Sets a core-only flag ({@link IomapFlags#SIZE_CHANGED} or {@link IomapFlags#STALE}). Core use only.
     *
     * @param flag the core flag to set
     */
    public void setCoreFlag(int flag) {
        if ((flag & ~IomapFlags.CORE_MASK) != 0) {
            throw new IllegalArgumentException("not a core iomap flag: " + flag);
        }
        coreFlags |= flag;
    }

    /**
     * True if this mapping covers file byte {@code posBytes}.
     *
     * @param posBytes a file byte offset
     * @return true if {@code offsetBytes <= posBytes < endBytes}
     */
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

        /**
         * Sets the device byte address of the mapping's first byte (MAPPED, UNWRITTEN).
         *
         * @param addrBytes device byte address
         * @return this builder
         */
        public Builder addrBytes(long addrBytes) {
            this.addrBytes = addrBytes;
            return this;
        }

        /**
         * Sets the filesystem flags.
         *
         * @param fsFlags {@link IomapFlags#FS_MASK} bits (NEW, DIRTY, SHARED, MERGED, ...)
         * @return this builder
         */
        public Builder flags(int fsFlags) {
            this.flags = fsFlags;
            return this;
        }

        /**
         * Sets the device holding the data.
         *
         * @param device the device
         * @return this builder
         */
        public Builder device(BlockDevice device) {
            this.device = device;
            return this;
        }

        /**
         * Sets the bytes of an INLINE mapping.
         *
         * @param inlineData byte i is file byte {@code offsetBytes + i}
         * @return this builder
         */
        public Builder inlineData(byte[] inlineData) {
            this.inlineData = inlineData;
            return this;
        }

        /**
         * Sets the validity cookie checked by {@link IomapOps#iomapValid}.
         *
         * @param validityCookie the filesystem's cookie (e.g. a block-map sequence number)
         * @return this builder
         */
        public Builder validityCookie(long validityCookie) {
            this.validityCookie = validityCookie;
            return this;
        }

        /**
         * Sets the copy-on-write source mapping.
         *
         * @param srcmap the mapping reads come from
         * @return this builder
         */
        public Builder srcmap(Iomap srcmap) {
            this.srcmap = srcmap;
            return this;
        }

        /**
         * Sets data carried from iomapBegin to iomapEnd.
         *
         * @param fsPrivate the filesystem's object
         * @return this builder
         */
        public Builder fsPrivate(Object fsPrivate) {
            this.fsPrivate = fsPrivate;
            return this;
        }

        /**
         * Builds the mapping.
         *
         * @return the immutable mapping
         */
        public Iomap build() {
            return new Iomap(this);
        }
    }
}
