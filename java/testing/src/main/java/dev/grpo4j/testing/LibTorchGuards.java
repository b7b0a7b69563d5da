package dev.grpo4j.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassModel;
import java.lang.classfile.CodeElement;
import java.lang.classfile.MethodModel;
import java.lang.classfile.Opcode;
import java.lang.classfile.instruction.FieldInstruction;
import java.lang.classfile.instruction.InvokeDynamicInstruction;
import java.lang.classfile.instruction.InvokeInstruction;
import java.lang.classfile.instruction.NewObjectInstruction;
import java.lang.constant.ConstantDesc;
import java.lang.constant.DirectMethodHandleDesc;
import java.lang.reflect.AccessFlag;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Finds the classes that could load bytedeco's libtorch the plain way, without {@code LibTorch.load()} first.
 *
 * <p>JavaCPP loads libtorch in the static initialiser of bytedeco's classes, in an order that lets the dynamic
 * loader mix a system libtorch into the process. A class of ours is safe when its static initialiser calls the
 * guard ({@code LibTorch.load()}) before anything else that could initialise such a class; it is a risk when its
 * code initialises (creates, calls a static method of, reads or writes a static field of, or takes a method handle
 * to) a class that loads libtorch: one of bytedeco's whose static initialiser (or a superclass's) calls JavaCPP's
 * {@code Loader.load}, or one of ours that is itself a risk. Instance calls need no guard: the instance exists, so
 * its class was initialised already. A subclass of a class that loads libtorch cannot guard itself (its superclass
 * is initialised first), so it counts as loading libtorch, its creators are checked, and it must offer no public
 * constructor or static method. Classes are read from their bytecode, so the check sees what the compiler made of
 * lambdas, method references and enum constants.
 */
public final class LibTorchGuards {
  private static final String TORCH_PACKAGE = "org/bytedeco/pytorch/";
  private static final String JAVACPP_LOADER = "org/bytedeco/javacpp/Loader";
  private static final String OWN_PACKAGE = "dev/grpo4j/";

  private final String guardOwner;
  private final String guardMethod;
  private final ClassLoader loader;
  private final Map<String, Boolean> loadsTorch = new HashMap<>();

  /**
   * @param guardOwner the internal name of the guard's class, e.g. {@code dev/grpo4j/platform/LibTorch}
   * @param guardMethod the guard, a static method without arguments, e.g. {@code load}
   * @param loader where the classes named in bytecode are read from (the test's class path)
   */
  public LibTorchGuards(String guardOwner, String guardMethod, ClassLoader loader) {
    this.guardOwner = guardOwner;
    this.guardMethod = guardMethod;
    this.loader = loader;
  }

  /**
   * The classes under {@code classesRoot} (a compiler's output folder) that could load libtorch unguarded, each with
   * the reason; empty when every one that touches libtorch calls the guard first.
   */
  public List<String> unguarded(Path classesRoot) {
    List<String> problems = new ArrayList<>();
    try (Stream<Path> files = Files.walk(classesRoot)) {
      for (Path file : files.filter(f -> f.toString().endsWith(".class")).sorted().toList()) {
        String name = classesRoot.relativize(file).toString().replace('\\', '/').replaceAll("\\.class$", "");
        if (name.endsWith("module-info") || name.equals(guardOwner)) {
          continue;
        }
        ClassModel model = ClassFile.of().parse(Files.readAllBytes(file));
        Optional<String> reason = extendsTorch(model) ? publicEntry(model) : problem(model);
        reason.ifPresent(r -> problems.add(name.replace('/', '.') + ": " + r));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return problems;
  }

  /** Why {@code model} could load libtorch unguarded, or empty. */
  private Optional<String> problem(ClassModel model) {
    String self = model.thisClass().asInternalName();
    List<String> initialised = new ArrayList<>();
    for (MethodModel method : model.methods()) {
      method.code().ifPresent(code -> {
        for (CodeElement element : code) {
          initialisedBy(element).filter(name -> !name.equals(self) && loadsTorch(name)).ifPresent(initialised::add);
        }
      });
    }
    if (initialised.isEmpty()) {
      return Optional.empty();
    }
    Guard guard = guard(model, self);
    if (guard == Guard.FIRST) {
      return Optional.empty();
    }
    String uses = "initialises " + initialised.stream().distinct().limit(3).map(n -> n.replace('/', '.')).toList();
    return Optional.of(uses + (guard == Guard.LATE
        ? ", and its static initialiser calls " + guardMethod + "() only after touching libtorch"
        : " without calling " + guardOwner.replace('/', '.') + "." + guardMethod + "() in a static initialiser"));
  }

  /**
   * Whether {@code model} extends a class that loads libtorch. Such a class cannot guard itself (its superclass is
   * initialised before it), so it counts as loading libtorch and the classes that create it are checked instead.
   */
  private boolean extendsTorch(ClassModel model) {
    return model.superclass().map(s -> loadsTorch(s.asInternalName())).orElse(false);
  }

  /**
   * Why a class that extends one that loads libtorch is a risk: a public constructor or static method lets a program
   * start there, and no guard of its own runs before its superclass loads libtorch.
   */
  private static Optional<String> publicEntry(ClassModel model) {
    if (!model.flags().has(AccessFlag.PUBLIC)) {
      return Optional.empty();
    }
    return model.methods().stream()
        .filter(m -> m.flags().has(AccessFlag.PUBLIC) || m.flags().has(AccessFlag.PROTECTED))
        .filter(m -> m.flags().has(AccessFlag.STATIC) || m.methodName().equalsString("<init>"))
        .findFirst()
        .map(m -> "extends a class that loads libtorch, so it initialises libtorch before any guard of its own can "
            + "run, yet " + m.methodName().stringValue() + " is public: create it from a guarded class instead");
  }

  private enum Guard { NONE, LATE, FIRST }

  /** Whether the static initialiser calls the guard before it initialises anything that loads libtorch. */
  private Guard guard(ClassModel model, String self) {
    for (MethodModel method : model.methods()) {
      if (!method.methodName().equalsString("<clinit>") || method.code().isEmpty()) {
        continue;
      }
      for (CodeElement element : method.code().get()) {
        if (element instanceof InvokeInstruction call && call.opcode() == Opcode.INVOKESTATIC
            && call.owner().asInternalName().equals(guardOwner) && call.name().equalsString(guardMethod)) {
          return Guard.FIRST;
        }
        if (initialisedBy(element).filter(name -> !name.equals(self) && loadsTorch(name)).isPresent()) {
          return Guard.LATE;
        }
      }
    }
    return Guard.NONE;
  }

  /** The class an instruction initialises when it runs, if any. */
  private static Optional<String> initialisedBy(CodeElement element) {
    return switch (element) {
      case NewObjectInstruction create -> Optional.of(create.className().asInternalName());
      case InvokeInstruction call when call.opcode() == Opcode.INVOKESTATIC ->
          Optional.of(call.owner().asInternalName());
      case FieldInstruction field when field.opcode() == Opcode.GETSTATIC || field.opcode() == Opcode.PUTSTATIC ->
          Optional.of(field.owner().asInternalName());
      case InvokeDynamicInstruction dynamic -> dynamic.bootstrapArgs().stream()
          .filter(arg -> arg instanceof DirectMethodHandleDesc handle
              && handle.kind() != DirectMethodHandleDesc.Kind.VIRTUAL
              && handle.kind() != DirectMethodHandleDesc.Kind.INTERFACE_VIRTUAL)
          .map(arg -> internalName((DirectMethodHandleDesc) arg)).findFirst();
      default -> Optional.empty();
    };
  }

  private static String internalName(ConstantDesc handle) {
    String descriptor = ((DirectMethodHandleDesc) handle).owner().descriptorString();
    return descriptor.substring(1, descriptor.length() - 1);
  }

  /**
   * Whether initialising {@code name} loads libtorch: bytedeco's classes whose static initialiser (or a
   * superclass's) calls {@code Loader.load}, and our classes that are a risk themselves.
   */
  private boolean loadsTorch(String name) {
    if (!name.startsWith(TORCH_PACKAGE) && !name.startsWith(OWN_PACKAGE)) {
      return false;
    }
    Boolean known = loadsTorch.get(name);
    if (known != null) {
      return known;
    }
    loadsTorch.put(name, false);
    ClassModel model = read(name);
    boolean loads = false;
    if (model != null) {
      if (name.startsWith(TORCH_PACKAGE)) {
        loads = callsJavaCppLoader(model) || model.superclass().map(s -> loadsTorch(s.asInternalName())).orElse(false);
      } else {
        loads = extendsTorch(model) || problem(model).isPresent();
      }
    }
    loadsTorch.put(name, loads);
    return loads;
  }

  private static boolean callsJavaCppLoader(ClassModel model) {
    for (MethodModel method : model.methods()) {
      if (method.methodName().equalsString("<clinit>") && method.code().isPresent()) {
        for (CodeElement element : method.code().get()) {
          if (element instanceof InvokeInstruction call && call.owner().asInternalName().equals(JAVACPP_LOADER)
              && call.name().equalsString("load")) {
            return true;
          }
        }
      }
    }
    return false;
  }

  private ClassModel read(String name) {
    try (InputStream in = loader.getResourceAsStream(name + ".class")) {
      return in == null ? null : ClassFile.of().parse(in.readAllBytes());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
