package org.iomap4j.cli;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** Parses sizes like {@code 4096}, {@code 512K}, {@code 512M}, {@code 1G}, {@code 2T} (binary units) into bytes. */
final class SizeConverter implements ITypeConverter<Long> {
    @Override
    public Long convert(String value) {
        return parse(value);
    }

    static long parse(String value) {
        String v = value.trim();
        if (v.isEmpty()) {
            throw new TypeConversionException("empty size");
        }
        char unit = Character.toUpperCase(v.charAt(v.length() - 1));
        int shift = switch (unit) {
            case 'K' -> 10;
            case 'M' -> 20;
            case 'G' -> 30;
            case 'T' -> 40;
            default -> 0;
        };
        String digits = shift == 0 ? v : v.substring(0, v.length() - 1);
        if (digits.endsWith("i") || digits.endsWith("I")) {
            throw new TypeConversionException("'" + value + "': write 1G, not 1GiB");
        }
        try {
            long n = Long.parseLong(digits);
            if (n < 0 || (shift > 0 && n > (Long.MAX_VALUE >> shift))) {
                throw new TypeConversionException("size out of range: '" + value + "'");
            }
            return n << shift;
        } catch (NumberFormatException e) {
            throw new TypeConversionException("not a size: '" + value + "' (examples: 4096, 512M, 1G)");
        }
    }
}
