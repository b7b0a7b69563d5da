package dev.grpo4j.platform;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * The dynamic-section names of a 64-bit little-endian ELF shared library: its own {@code DT_SONAME}, the
 * {@code DT_NEEDED} libraries the dynamic loader will look up for it, and the folders it names for that search.
 * {@link LibTorch} needs them to load a preset's libraries dependencies-first, so that each lookup finds the copy
 * already loaded, and to tell beforehand whether the libraries it does not bundle (CUDA's) can be found.
 *
 * @param soname the library's soname, empty when it has none
 * @param needed the sonames it depends on, in file order
 * @param runpath the folders of its {@code DT_RUNPATH} (or, without one, {@code DT_RPATH}), unexpanded
 */
record ElfDependencies(Optional<String> soname, List<String> needed, List<String> runpath) {
  private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final int SECTION_HEADER_SIZE = 64;
  private static final int SHT_DYNAMIC = 6;
  private static final long DT_NULL = 0;
  private static final long DT_NEEDED = 1;
  private static final long DT_SONAME = 14;
  private static final long DT_RPATH = 15;
  private static final long DT_RUNPATH = 29;

  /**
   * Reads the dynamic section of {@code file}, or returns empty when the file is not a 64-bit little-endian ELF
   * object (a header or source file that ships beside the libraries).
   *
   * @throws IOException when the file cannot be read or its ELF structures point outside it
   */
  static Optional<ElfDependencies> read(Path file) throws IOException {
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ); Arena arena = Arena.ofConfined()) {
      long size = channel.size();
      if (size < SECTION_HEADER_SIZE) {
        return Optional.empty();
      }
      MemorySegment elf = channel.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
      boolean elf64LittleEndian =
          elf.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN), 0) == 0x7f454c46
          && elf.get(ValueLayout.JAVA_BYTE, 4) == 2 && elf.get(ValueLayout.JAVA_BYTE, 5) == 1;
      if (!elf64LittleEndian) {
        return Optional.empty();
      }
      return Optional.of(parse(elf, file));
    } catch (IndexOutOfBoundsException e) {
      throw new IOException(file + ": malformed ELF file (" + e.getMessage() + ")", e);
    }
  }

  private static ElfDependencies parse(MemorySegment elf, Path file) throws IOException {
    long sectionTable = elf.get(U64, 0x28);
    int sectionHeaderSize = Short.toUnsignedInt(elf.get(U16, 0x3A));
    int sections = Short.toUnsignedInt(elf.get(U16, 0x3C));
    if (sectionTable == 0 || sections == 0) {
      return new ElfDependencies(Optional.empty(), List.of(), List.of());
    }
    if (sectionHeaderSize < SECTION_HEADER_SIZE) {
      throw new IOException(file + ": ELF section headers of " + sectionHeaderSize + " bytes");
    }
    for (int i = 0; i < sections; i++) {
      long header = sectionTable + (long) i * sectionHeaderSize;
      if (elf.get(U32, header + 4) != SHT_DYNAMIC) {
        continue;
      }
      long dynamicOffset = elf.get(U64, header + 0x18);
      long dynamicSize = elf.get(U64, header + 0x20);
      int stringSection = elf.get(U32, header + 0x28);
      long strings = elf.get(U64, sectionTable + (long) stringSection * sectionHeaderSize + 0x18);
      Optional<String> soname = Optional.empty();
      List<String> needed = new ArrayList<>();
      String rpath = null;
      String runpath = null;
      for (long entry = dynamicOffset; entry + 16 <= dynamicOffset + dynamicSize; entry += 16) {
        long tag = elf.get(U64, entry);
        if (tag == DT_NULL) {
          break;
        }
        if (tag == DT_NEEDED) {
          needed.add(string(elf, strings + elf.get(U64, entry + 8)));
        } else if (tag == DT_SONAME) {
          soname = Optional.of(string(elf, strings + elf.get(U64, entry + 8)));
        } else if (tag == DT_RUNPATH) {
          runpath = string(elf, strings + elf.get(U64, entry + 8));
        } else if (tag == DT_RPATH) {
          rpath = string(elf, strings + elf.get(U64, entry + 8));
        }
      }
      // The dynamic loader ignores DT_RPATH when DT_RUNPATH is present.
      String searchPath = runpath != null ? runpath : rpath;
      List<String> folders = searchPath == null ? List.of()
          : Arrays.stream(searchPath.split(":")).filter(folder -> !folder.isEmpty()).toList();
      return new ElfDependencies(soname, List.copyOf(needed), folders);
    }
    return new ElfDependencies(Optional.empty(), List.of(), List.of());
  }

  private static String string(MemorySegment elf, long offset) {
    return elf.getString(offset, StandardCharsets.US_ASCII);
  }
}
