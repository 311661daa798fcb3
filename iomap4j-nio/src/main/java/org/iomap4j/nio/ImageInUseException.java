package org.iomap4j.nio;

import java.nio.file.FileSystemException;

/**
 * Opening an image failed because another mount holds its lock: this JVM has it open already, or another process
 * (an {@code iomapfs mount}, a writing {@code iomapfs cp}, another JVM) does. {@link #getFile()} is the image.
 */
public final class ImageInUseException extends FileSystemException {
    private static final long serialVersionUID = 1L;

    ImageInUseException(String image, String reason) {
        super(image, null, reason);
    }
}
