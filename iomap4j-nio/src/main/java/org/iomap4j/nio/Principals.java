package org.iomap4j.nio;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.nio.file.attribute.UserPrincipalNotFoundException;
import java.util.List;

/**
 * Owners of files in an image are numeric ids; their names are the host's (/etc/passwd, /etc/group) when it
 * knows the id, else the number, as {@code ls -n} would show. Lookup accepts a name the host knows or a number.
 */
final class Principals {
    private Principals() {}

    /** A user or group by id. */
    record Id(int id, boolean group, String name) implements GroupPrincipal {
        @Override
        public String getName() {
            return name;
        }

        @Override
        public String toString() {
            return name;
        }

        /** Equal by id and kind: the name is only how the host shows it. */
        @Override
        public boolean equals(Object o) {
            return o instanceof Id other && other.id == id && other.group == group;
        }

        @Override
        public int hashCode() {
            return Integer.hashCode(id) * 31 + (group ? 1 : 0);
        }
    }

    static UserPrincipal user(int uid) {
        return new Id(uid, false, nameOf(Path.of("/etc/passwd"), uid));
    }

    static GroupPrincipal group(int gid) {
        return new Id(gid, true, nameOf(Path.of("/etc/group"), gid));
    }

    /** The numeric id of a principal of this provider; ProviderMismatchException for others. */
    static int idOf(UserPrincipal p) {
        if (p instanceof Id id) {
            return id.id();
        }
        throw new java.nio.file.ProviderMismatchException("principal of another provider: " + p);
    }

    static final UserPrincipalLookupService LOOKUP = new UserPrincipalLookupService() {
        @Override
        public UserPrincipal lookupPrincipalByName(String name) throws IOException {
            return new Id(idFor(Path.of("/etc/passwd"), name), false, name);
        }

        @Override
        public GroupPrincipal lookupPrincipalByGroupName(String group) throws IOException {
            return new Id(idFor(Path.of("/etc/group"), group), true, group);
        }
    };

    private static final java.util.Map<Path, List<String[]>> DBS = new java.util.concurrent.ConcurrentHashMap<>();

    /** The host's entries, read once per JVM (ids of files are read far more often than users change). */
    private static List<String[]> entries(Path db) {
        return DBS.computeIfAbsent(db, d -> {
            try {
                return Files.readAllLines(d).stream().map(l -> l.split(":", -1)).filter(f -> f.length > 2).toList();
            } catch (IOException e) {
                return List.of();
            }
        });
    }

    private static String nameOf(Path db, int id) {
        for (String[] f : entries(db)) {
            if (f[2].equals(Integer.toString(id))) {
                return f[0];
            }
        }
        return Integer.toString(id);
    }

    private static int idFor(Path db, String name) throws UserPrincipalNotFoundException {
        for (String[] f : entries(db)) {
            if (f[0].equals(name)) {
                try {
                    return Integer.parseInt(f[2]);
                } catch (NumberFormatException e) {
                    break;
                }
            }
        }
        try {
            return Integer.parseUnsignedInt(name);
        } catch (NumberFormatException e) {
            throw new UserPrincipalNotFoundException(name);
        }
    }
}
