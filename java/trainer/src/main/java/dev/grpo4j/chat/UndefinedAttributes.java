package dev.grpo4j.chat;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.el.ExtendedSyntaxBuilder;
import com.hubspot.jinjava.el.TruthyTypeConverter;
import com.hubspot.jinjava.el.ext.ExtendedParser;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.util.ScopeMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import jinjava.de.odysseus.el.ExpressionFactoryImpl;
import jinjava.de.odysseus.el.misc.LocalMessages;
import jinjava.de.odysseus.el.tree.Bindings;
import jinjava.de.odysseus.el.tree.TreeBuilder;
import jinjava.de.odysseus.el.tree.impl.Builder;
import jinjava.de.odysseus.el.tree.impl.Parser;
import jinjava.de.odysseus.el.tree.impl.ast.AstBracket;
import jinjava.de.odysseus.el.tree.impl.ast.AstDot;
import jinjava.de.odysseus.el.tree.impl.ast.AstIdentifier;
import jinjava.de.odysseus.el.tree.impl.ast.AstNested;
import jinjava.de.odysseus.el.tree.impl.ast.AstNode;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ExpressionFactory;
import jinjava.javax.el.PropertyNotFoundException;

/**
 * jinja2's rule for attributes and items of undefined values, which Jinjava lacks. In jinja2 a missing variable, key,
 * index or attribute is {@code Undefined}: printed it is empty, but taking an attribute or item of it raises
 * {@code UndefinedError} ({@code {{ nothing.attr }}}, {@code {{ m.missing.deeper }}}). Jinjava has only null, so it
 * renders both empty and the template goes on with a text transformers would never produce.
 *
 * <p>Here the expression parser builds attribute ({@code a.b}) and item ({@code a[b]}) nodes that know, inside one
 * chain, whether their base was undefined or none: {@code None.x} is undefined as in jinja2, an attribute of an
 * undefined value fails with jinja2's message. The distinction never leaves the chain: what a node hands to the rest
 * of Jinjava is null, as before. A missing value stored with {@code {% set %}} and used later is none here, where
 * jinja2 keeps it undefined.
 */
final class UndefinedAttributes {
  private UndefinedAttributes() {}

  /** A Jinjava engine whose expressions follow jinja2's rule. */
  static Jinjava engine(JinjavaConfig config) {
    return new Jinjava(config) {
      private final ExpressionFactory expressions = new Expressions();

      @Override
      public ExpressionFactory getExpressionFactory() {
        return expressions;
      }
    };
  }

  /** jinja2's Undefined within a chain, with the message jinja2 raises when something is taken from it. */
  private record Undefined(String message) {}

  /** The attribute or item nodes of this parser. */
  private interface Lookup {
    /** The node's value, or an {@link Undefined} where jinja2 has one. */
    Object lookup(Bindings bindings, ELContext context);
  }

  private static final class Expressions extends ExpressionFactoryImpl {
    Expressions() {
      super(new Properties(), new TruthyTypeConverter());
    }

    @Override
    protected TreeBuilder createTreeBuilder(Properties properties, Builder.Feature... features) {
      return new Syntax(features);
    }
  }

  private static final class Syntax extends ExtendedSyntaxBuilder {
    private static final long serialVersionUID = 1L;

    Syntax(Builder.Feature... features) {
      super(features);
    }

    @Override
    protected Parser createParser(String expression) {
      return new ExtendedParser(this, expression) {
        @Override
        protected AstDot createAstDot(AstNode prefix, String name, boolean lvalue) {
          return new Dot(prefix, name, lvalue, context.isEnabled(Builder.Feature.IGNORE_RETURN_TYPE));
        }

        @Override
        protected AstBracket createAstBracket(AstNode prefix, AstNode property, boolean lvalue, boolean strict) {
          return new Bracket(prefix, property, lvalue, strict, context.isEnabled(Builder.Feature.IGNORE_RETURN_TYPE));
        }
      };
    }
  }

  private static final class Dot extends AstDot implements Lookup {
    Dot(AstNode prefix, String property, boolean lvalue, boolean ignoreReturnType) {
      super(prefix, property, lvalue, ignoreReturnType);
    }

    @Override
    public Object eval(Bindings bindings, ELContext context) {
      return orNull(lookup(bindings, context));
    }

    @Override
    public Object lookup(Bindings bindings, ELContext context) {
      return take(valueOf(prefix, bindings, context), property, false, context);
    }
  }

  private static final class Bracket extends AstBracket implements Lookup {
    Bracket(AstNode prefix, AstNode property, boolean lvalue, boolean strict, boolean ignoreReturnType) {
      super(prefix, property, lvalue, strict, ignoreReturnType);
    }

    @Override
    public Object eval(Bindings bindings, ELContext context) {
      return orNull(lookup(bindings, context));
    }

    @Override
    public Object lookup(Bindings bindings, ELContext context) {
      Object base = valueOf(prefix, bindings, context);
      if (base instanceof Undefined undefined) {
        throw new JinjaEnvironment.Jinja2Error(undefined.message());
      }
      Object key = getProperty(bindings, context);
      if (key == null && strict && base != null) {
        return null;
      }
      return take(base, key, true, context);
    }
  }

  private static Object orNull(Object value) {
    return value instanceof Undefined ? null : value;
  }

  /** A node's value, or an {@link Undefined} for a chain's miss or an unbound name. */
  private static Object valueOf(AstNode node, Bindings bindings, ELContext context) {
    AstNode inner = node;
    while (inner instanceof AstNested nested) {
      inner = nested.getChild(0);
    }
    if (inner instanceof Lookup lookup) {
      return lookup.lookup(bindings, context);
    }
    Object value = node.eval(bindings, context);
    if (value == null && inner instanceof AstIdentifier name && !isBound(name.getName())) {
      return new Undefined("'" + name.getName() + "' is undefined");
    }
    return value;
  }

  /** Whether some scope binds the name, to none perhaps ({@link ScopeMap#containsKey} is false for a none). */
  private static boolean isBound(String name) {
    JinjavaInterpreter interpreter = JinjavaInterpreter.getCurrent();
    if (interpreter == null) {
      return true;
    }
    for (ScopeMap<String, Object> scope = interpreter.getContext(); scope != null; scope = scope.getParent()) {
      if (scope.getScope().containsKey(name)) {
        return true;
      }
    }
    return false;
  }

  /** {@code base.key} or {@code base[key]} as jinja2 takes it; the resolver's lookup as in Jinjava otherwise. */
  private static Object take(Object base, Object key, boolean item, ELContext context) {
    if (base instanceof Undefined undefined) {
      throw new JinjaEnvironment.Jinja2Error(undefined.message());
    }
    if (base == null) {
      return new Undefined("'None' has no attribute '" + key + "'");
    }
    context.setPropertyResolved(false);
    Object value = context.getELResolver().getValue(context, base, key);
    if (!context.isPropertyResolved()) {
      throw new PropertyNotFoundException(LocalMessages.get("error.property.property.notfound", key, base));
    }
    if (value != null || holds(base, key)) {
      return value;
    }
    if (item && base instanceof List<?> && key instanceof Number index) {
      return new Undefined("list object has no element " + index);
    }
    return new Undefined("'" + pythonType(base) + "' has no attribute '" + key + "'");
  }

  /** Whether a null from the resolver is a stored none rather than a miss. */
  private static boolean holds(Object base, Object key) {
    if (base instanceof Map<?, ?> map) {
      return map.containsKey(key);
    }
    if (base instanceof List<?> list && key instanceof Number index) {
      long at = index.longValue();
      return at >= -list.size() && at < list.size();
    }
    return false;
  }

  private static String pythonType(Object value) {
    String type = switch (value) {
      case Map<?, ?> map -> "dict";
      case List<?> list -> "list";
      case CharSequence text -> "str";
      case Boolean truth -> "bool";
      case Double real -> "float";
      case Float real -> "float";
      case Number whole -> "int";
      default -> value.getClass().getSimpleName();
    };
    return type + " object";
  }
}
