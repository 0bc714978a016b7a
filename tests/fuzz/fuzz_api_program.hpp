#pragma once
// The byte code of fuzz_api: how an input's bytes read as a program of API calls. Shared with
// make_seeds.cpp, so that the seeds are written as programs rather than as opaque bytes.
//
// An input is one byte that seeds the starting values of the parameters, then instructions. Each
// instruction is one byte (looked up in `instruction_table`, so that the common ones take more of
// the 256 values) followed by its arguments, one byte each:
//   record_param     tape, parameter slot
//   record_constant  tape, rows, cols, rows·cols values
//   op               opcode, operand a [, operand b] [, factor] [, labels spec, one byte per label]
//                    [, the arguments of an op of any rank (see OpCode)]
//   backward         loss, tape (the loss's own tape unless the byte is >= 0xE0)
//   clear            tape
//   nograd_open      tape
//   nograd_close
//   set_value        parameter slot, one value per element (same shape)
//   reshape          parameter slot, rows, cols, rows·cols values
//   grow             0..127: a new parameter (rows, cols, values); else a copy of (slot)
//   drop                                       (the last parameter is destroyed)
//   swap             slot, slot                (std::swap)
//   copy_assign      slot, slot                (params[i] = params[j])
//   zero_grad        parameter slot
//   new_tape         tape                      (destroyed, then made again; old handles kept)
//   read_grad        value
//   check                                      (every handle held is checked)
// Operands and losses count back from the newest value held (0 = the newest); slots and tapes are
// taken modulo how many there are. Missing bytes read as 0.
#include <cstddef>
#include <cstdint>
#include <limits>

namespace fuzz_api {

enum class Instruction : std::uint8_t {
  record_param,
  record_constant,
  op,
  backward,
  clear,
  nograd_open,
  nograd_close,
  set_value,
  reshape,
  grow,
  drop,
  swap,
  copy_assign,
  zero_grad,
  new_tape,
  read_grad,
  check,
};

// Ops take most of the table: they are what builds a graph worth differentiating.
constexpr Instruction instruction_table[32] = {
    Instruction::record_param, Instruction::record_param, Instruction::record_param,
    Instruction::record_constant, Instruction::record_constant,
    Instruction::op, Instruction::op, Instruction::op, Instruction::op, Instruction::op,
    Instruction::op, Instruction::op, Instruction::op, Instruction::op, Instruction::op,
    Instruction::backward, Instruction::backward, Instruction::backward,
    Instruction::clear, Instruction::nograd_open, Instruction::nograd_close,
    Instruction::set_value, Instruction::reshape, Instruction::grow, Instruction::drop,
    Instruction::swap, Instruction::copy_assign, Instruction::zero_grad, Instruction::new_tape,
    Instruction::read_grad, Instruction::check, Instruction::op,
};

inline Instruction decode_instruction(std::uint8_t byte) { return instruction_table[byte % 32]; }

// The byte that encodes an instruction (its first place in the table).
inline std::uint8_t encode(Instruction ins) {
  for (std::uint8_t b = 0; b < 32; ++b) {
    if (instruction_table[b] == ins) return b;
  }
  return 0;
}

enum class OpCode : std::uint8_t {
  add,
  sub,
  mul,
  scale,       // argument: factor byte, (b − 128) / 32
  tanh,
  sigmoid,
  relu,
  exp,
  log,
  softmax,
  matmul,
  sum,
  mean,
  l2_penalty,
  cross_entropy,  // argument: labels spec (bit 0: mean reduction; >= 0xF0: one label too many
                  // (bit 1) or too few), then one byte per label (>= 0xF0: out of range)
  // The ops of any rank. Their arguments may be anything, so that the refusals are fuzzed too:
  // a dim byte decodes by decode_nd_dim, a size by decode_nd_size, a list by a count byte
  // (decode_count) and that many entries.
  reshape_nd,       // sizes: a list of decode_nd_size
  permute,          // dims: a list of decode_nd_dim
  transpose_dims,   // dim, dim
  slice_dim,        // dim, begin, end (decode_index each)
  narrow,           // dim, start, length (decode_index each)
  cat,              // parts: 1 + byte % 3, an operand byte for each part after a; then dim
  stack,            // as cat
  unsqueeze,        // dim
  squeeze,          // dim
  sum_dims,         // dims: a list of decode_nd_dim; keepdim: bit 0 of a byte
  mean_dims,        // as sum_dims
  softmax_dim,      // dim
  log_softmax_dim,  // dim
  masked_fill,      // operand b: the mask; value: decode_fill
  cross_entropy_nd, // reduction (byte % 3: sum, mean, none); ignore_index (0xFF: none, else
                    // byte % 8 − 2); labels spec as cross_entropy, then one byte per label
                    // (>= 0xF0: out of range; 0xE0..0xEF: the ignore_index)
  broadcast_to,     // shape: a list of decode_dim
  index_select,     // dim; ids: a count byte (byte % 6) and one byte per id (>= 0xF0: out of range)
  count,
};

inline bool is_binary(OpCode op) {
  return op == OpCode::add || op == OpCode::sub || op == OpCode::mul || op == OpCode::matmul ||
         op == OpCode::masked_fill;
}

// A dim of an op of any rank: -6..6, and now and then far out of range.
inline int decode_nd_dim(std::uint8_t byte) {
  return byte == 0xFF ? 1000 : byte == 0xFE ? -1000 : static_cast<int>(byte % 13) - 6;
}
inline std::uint8_t encode_nd_dim(int d) { return static_cast<std::uint8_t>(d + 6); }
// A size of a reshape: 1..4, now and then 0, -1 (inferred) or -2 (invalid).
inline std::int64_t decode_nd_size(std::uint8_t byte) {
  return byte == 0xFF ? -1 : byte == 0xFE ? -2 : byte >= 0xF8 ? 0 : 1 + byte % 4;
}
// How many entries a list has: 0..5, or 9 (more than a value's max_rank of 8 dimensions).
inline std::size_t decode_count(std::uint8_t byte) { return byte == 0xFF ? 9 : byte % 6; }
// A position along a dim: 0..5.
inline std::size_t decode_index(std::uint8_t byte) { return byte % 6; }
// masked_fill's value: -inf, +inf, or a factor.
inline double decode_fill(std::uint8_t byte) {
  const double inf = std::numeric_limits<double>::infinity();
  return byte == 0xFF ? -inf : byte == 0xFE ? inf : (static_cast<int>(byte) - 128) / 32.0;
}

inline OpCode decode_op(std::uint8_t byte) {
  return static_cast<OpCode>(byte % static_cast<std::uint8_t>(OpCode::count));
}

// A dimension: 1..4, and now and then 0 (an empty matrix, which some ops must refuse).
inline std::size_t decode_dim(std::uint8_t byte) { return byte >= 0xF8 ? 0 : 1 + byte % 4; }
inline std::uint8_t encode_dim(std::size_t d) {
  return d == 0 ? 0xF8 : static_cast<std::uint8_t>(d - 1);
}

// A value in [-2, 2) on a grid of 1/64: exact in binary, and moderate enough that exp and products
// of a few of them stay far from overflow.
inline double decode_value(std::uint8_t byte) { return (static_cast<int>(byte) - 128) / 64.0; }
inline std::uint8_t encode_value(double v) { return static_cast<std::uint8_t>(v * 64.0 + 128.0); }

inline double decode_factor(std::uint8_t byte) { return (static_cast<int>(byte) - 128) / 32.0; }

}  // namespace fuzz_api
