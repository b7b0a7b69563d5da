package dev.grpo4j.model;

import dev.grpo4j.platform.LibTorch;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;

/** Registration of a model's parameters and modules so that they live as long as the model. */
final class Parameters {
  static {
    LibTorch.load();
  }

  private Parameters() {}

  /**
   * Registers {@code value} as parameter {@code name} of {@code module}. libtorch returns a reference into the
   * module's parameter table, which moves when the table grows; the copy returned here shares the parameter's
   * storage and autograd identity but stays valid, and is kept out of any open {@code PointerScope}.
   */
  static Tensor register(Module module, String name, Tensor value) {
    return keep(new Tensor(module.register_parameter(name, value, true)));
  }

  /**
   * Takes {@code p} out of the innermost open {@code PointerScope}: a model built, or given adapters, inside a
   * training step's scope must not lose its Java handles when that step ends.
   */
  static <P extends Pointer> P keep(P p) {
    PointerScope scope = PointerScope.getInnerScope();
    if (scope != null) {
      // detach() releases the reference the scope took; the retain keeps the pointer from being freed by it.
      p.retainReference();
      scope.detach(p);
    }
    return p;
  }
}
