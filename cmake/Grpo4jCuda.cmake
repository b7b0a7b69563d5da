# Finds nvcc and, when present, compiles the CUDA backend into the same shared library, linked against the
# static CUDA runtime so that the library loads on machines without CUDA; there the CUDA entry points
# report GRPO4J_NO_CUDA_DEVICE. Without nvcc a stub backend returns that status everywhere.
include(CheckLanguage)
set(GRPO4J_HAVE_CUDA OFF)
if(GRPO4J_CUDA)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(CMAKE_CUDA_ARCHITECTURES "${GRPO4J_CUDA_ARCHITECTURES}")
    set(CMAKE_CUDA_RUNTIME_LIBRARY Static)
    set(CMAKE_CUDA_STANDARD 17)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    enable_language(CUDA)
    set(GRPO4J_HAVE_CUDA ON)
    message(STATUS "grpo4j: CUDA backend ON (${CMAKE_CUDA_COMPILER}, architectures ${CMAKE_CUDA_ARCHITECTURES})")
  else()
    message(STATUS "grpo4j: nvcc not found, CUDA backend OFF")
  endif()
endif()

# The CUDA backend's sources, without folder or extension; tests/cuda_emulation builds them for the CPU too.
set(GRPO4J_CUDA_SOURCE_NAMES cuda_runtime_helpers fused_loss_cuda token_logprobs_cuda loss_statistics_cuda
    group_step_cuda sequence_sums_cuda logits_gradient_cuda)

function(grpo4j_add_backend_sources target)
  if(GRPO4J_HAVE_CUDA)
    foreach(name ${GRPO4J_CUDA_SOURCE_NAMES})
      target_sources(${target} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src/cuda/${name}.cu)
    endforeach()
    target_compile_definitions(${target} PRIVATE GRPO4J_WITH_CUDA=1)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--use_fast_math -lineinfo
                           -Xcompiler=-fvisibility=hidden>)
    set_target_properties(${target} PROPERTIES CUDA_RUNTIME_LIBRARY Static)
  else()
    target_sources(${target} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src/cuda_unavailable.cpp)
  endif()
endfunction()
