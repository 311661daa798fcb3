package org.iomap4j.nio;

import java.util.regex.PatternSyntaxException;

/**
 * Glob patterns as {@link java.nio.file.FileSystem#getPathMatcher} documents them, turned into a regex: {@code *}
 * matches within one name, {@code **} across names, {@code ?} one character of a name, {@code [abc]} /
 * {@code [a-z]} / {@code [!a]} one character of a class, {@code {a,b}} one of the comma-separated sub-patterns (not
 * nested), and {@code \} escapes the next character.
 */
final class Globs {
    private Globs() {}

    private static final String REGEX_META = ".^$+{[]|()";
    private static final String GLOB_META = "\\*?[{";

    static String toRegex(String glob) {
        StringBuilder re = new StringBuilder("^");
        boolean inGroup = false;
        int i = 0;
        while (i < glob.length()) {
            char c = glob.charAt(i++);
            switch (c) {
                case '\\' -> {
                    if (i == glob.length()) {
                        throw new PatternSyntaxException("no character to escape", glob, i - 1);
                    }
                    char next = glob.charAt(i++);
                    if (GLOB_META.indexOf(next) >= 0 || REGEX_META.indexOf(next) >= 0 || next == '}' || next == ',') {
                        re.append('\\');
                    }
                    re.append(next);
                }
                case '/' -> re.append('/');
                case '[' -> i = charClass(glob, i, re);
                case '{' -> {
                    if (inGroup) {
                        throw new PatternSyntaxException("cannot nest groups", glob, i - 1);
                    }
                    re.append("(?:(?:");
                    inGroup = true;
                }
                case '}' -> {
                    if (inGroup) {
                        re.append("))");
                        inGroup = false;
                    } else {
                        re.append('}');
                    }
                }
                case ',' -> re.append(inGroup ? ")|(?:" : ",");
                case '*' -> {
                    if (i < glob.length() && glob.charAt(i) == '*') {
                        re.append(".*");
                        i++;
                    } else {
                        re.append("[^/]*");
                    }
                }
                case '?' -> re.append("[^/]");
                default -> {
                    if (REGEX_META.indexOf(c) >= 0) {
                        re.append('\\');
                    }
                    re.append(c);
                }
            }
        }
        if (inGroup) {
            throw new PatternSyntaxException("missing '}'", glob, glob.length() - 1);
        }
        return re.append('$').toString();
    }

    /** Appends the class starting after '[' at {@code i}; returns the index after its ']'. */
    private static int charClass(String glob, int i, StringBuilder re) {
        re.append("[[^/]&&[");
        if (i < glob.length() && glob.charAt(i) == '^') {
            re.append("\\^");
            i++;
        } else {
            if (i < glob.length() && glob.charAt(i) == '!') {
                re.append('^');
                i++;
            }
            if (i < glob.length() && glob.charAt(i) == '-') {
                re.append('-');
                i++;
            }
        }
        boolean hasRangeStart = false;
        char last = 0;
        while (i < glob.length()) {
            char c = glob.charAt(i++);
            if (c == ']') {
                re.append("]]");
                return i;
            }
            if (c == '/') {
                throw new PatternSyntaxException("explicit '/' in a class", glob, i - 1);
            }
            if (c == '\\' || c == '[' || (c == '&' && i < glob.length() && glob.charAt(i) == '&')) {
                re.append('\\');
            }
            re.append(c);
            if (c == '-') {
                if (!hasRangeStart) {
                    throw new PatternSyntaxException("invalid range", glob, i - 1);
                }
                if (i == glob.length()) {
                    break;
                }
                char end = glob.charAt(i++);
                if (end < last) {
                    throw new PatternSyntaxException("invalid range", glob, i - 3);
                }
                re.append(end);
                hasRangeStart = false;
            } else {
                hasRangeStart = true;
                last = c;
            }
        }
        throw new PatternSyntaxException("missing ']'", glob, i - 1);
    }
}
