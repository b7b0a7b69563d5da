# GRPO4J_SANITIZE=ON builds the library and the native tests with AddressSanitizer and UBSan. The
# sanitized library is for ctest only: a JVM cannot load it without preloading the ASan runtime.
function(grpo4j_apply_sanitizers target)
  if(GRPO4J_SANITIZE)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=address,undefined
                           -fno-sanitize-recover=all -fno-omit-frame-pointer>)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()

if(GRPO4J_SANITIZE AND GRPO4J_CUDA)
  message(STATUS "grpo4j: GRPO4J_SANITIZE=ON builds the CPU backends only")
  set(GRPO4J_CUDA OFF CACHE BOOL "" FORCE)
endif()
