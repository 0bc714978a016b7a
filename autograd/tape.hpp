#pragma once
// The tape: a Wengert list of every value computed in one forward pass, in creation order.
// backward(loss) walks it back once, and each op's rule adds its inputs' shares of the gradient.
#include <array>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <xtensor/xnoalias.hpp>
#include <xtensor/xtensor.hpp>

#include "autograd/tensor.hpp"

namespace autograd {

class Tape;
struct Node;

// An op's backward rule: read node.grad (d loss / d result) and add each input's share to it.
using BackwardFn = void (*)(Tape&, const Node&);

// What an op is: its name (for errors) and its backward rule. Every OpDef registers itself, so the
// tests can walk the list of all ops and fail when one has no gradient check.
// Define OpDefs as objects with static storage duration (namespace-scope constants, as in ops.cpp):
// each node of a tape points at its OpDef. One that is destroyed leaves the registry.
struct OpDef {
  OpDef(const char* name, BackwardFn backward);
  ~OpDef();
  OpDef(const OpDef&) = delete;  // the registry and the tapes hold its address
  OpDef& operator=(const OpDef&) = delete;
  const char* name;
  BackwardFn backward;  // nullptr for leaves (constants and parameters)
};
const std::vector<const OpDef*>& registered_ops();

// Where a Tape or a Parameter lives now, or that it is gone. Cells are pooled and never freed, so a
// handle can always read its cell: it keeps the cell and the serial it was given, and the object is
// alive exactly while the cell still carries that serial. Internal to the engine.
struct Anchor {
  void* object = nullptr;
  std::uint64_t serial = 0;  // 0 while the cell is free
  static Anchor* acquire(void* object);
  static void release(Anchor* anchor);
};

// A value that outlives a pass: weights. backward adds into grad; zeroing it is the caller's call.
//
// Tapes and optimisers refer to a Parameter through a ParamRef, which follows it when it is moved
// (a growing std::vector<Parameter>, a std::swap) and refuses with std::logic_error to touch it
// once it is destroyed. Copying makes a new parameter; assigning copies values and keeps identity,
// except a move assignment, after which the target is the parameter the source was.
class Parameter {
 public:
  explicit Parameter(Matrix value, std::string name = "");
  Parameter(const Parameter& other);
  Parameter(Parameter&& other) noexcept;
  Parameter& operator=(const Parameter& other);
  Parameter& operator=(Parameter&& other) noexcept;
  ~Parameter();
  void zero_grad();

  Matrix value;
  Matrix grad;  // same shape as value
  std::string name;

 private:
  friend class ParamRef;
  Anchor* anchor_ = nullptr;  // null only after being moved from; a new one is made on demand
};

// How a tape or an optimiser holds a Parameter (see Parameter).
class ParamRef {
 public:
  ParamRef() = default;
  ParamRef(Parameter& p);  // NOLINT: implicit, so a Parameter* list converts
  ParamRef(Parameter* p) : ParamRef(*p) {}  // NOLINT
  bool alive() const { return anchor_ != nullptr && anchor_->serial == serial_; }
  // The parameter where it lives now; throws std::logic_error if it was destroyed.
  Parameter* get() const;
  Parameter* operator->() const { return get(); }
  Parameter& operator*() const { return *get(); }
  explicit operator bool() const { return anchor_ != nullptr; }

 private:
  Anchor* anchor_ = nullptr;
  std::uint64_t serial_ = 0;
};

// One recorded value. Slots are reused from pass to pass, so their buffers are allocated once.
struct Node {
  static constexpr std::uint32_t none = UINT32_MAX;

  const OpDef* op = nullptr;
  ParamRef param;                       // set for parameter leaves; their value lives there
  std::vector<std::uint32_t> in;        // tape positions of the inputs (capacity kept across passes)
  std::uint32_t index = 0;              // own tape position
  std::uint64_t generation = 0;         // tells a stale handle from the slot's current value
  double scalar = 0.0;                  // op attribute: a scale factor, 1/N of a mean reduction
  std::array<std::size_t, 4> attr{};    // op attributes: an axis, a slice's ranges; for parameter
                                        // leaves the shape recorded, checked again by backward
  bool requires_grad = false;           // some parameter reaches this value
  bool has_grad = false;                // grad holds this pass's gradient
  Matrix value;                         // the op's result
  Matrix grad;                          // d loss / d value
  Matrix saved;                         // what backward needs beyond inputs and result
  Labels labels;                        // class labels of a cross-entropy
};

// The handle a user holds: a position on a tape. Cheap to copy; goes stale when the tape is cleared.
class Var {
 public:
  Var() = default;
  const Matrix& value() const;
  // d loss / d this value after backward (zeros if the loss does not depend on it).
  const Matrix& grad() const;
  std::size_t rows() const { return value().shape(0); }
  std::size_t cols() const { return value().shape(1); }
  Tape& tape() const;  // throws std::logic_error if the handle is empty or its tape destroyed
  std::uint32_t index() const { return index_; }
  bool empty() const { return anchor_ == nullptr; }  // default-constructed: no value yet

 private:
  friend class Tape;
  Var(Anchor* anchor, std::uint32_t index, std::uint64_t generation)
      : anchor_(anchor), serial_(anchor->serial), index_(index), generation_(generation) {}
  Anchor* anchor_ = nullptr;   // the tape's cell: a destroyed tape is detected, not dereferenced
  std::uint64_t serial_ = 0;
  std::uint32_t index_ = 0;
  std::uint64_t generation_ = 0;
};

class Tape {
 public:
  Tape();
  ~Tape();
  Tape(const Tape&) = delete;             // handles point at their tape
  Tape& operator=(const Tape&) = delete;

  // Leaves. A constant is copied onto the tape (into a reused buffer) and gets no gradient.
  Var constant(const Matrix& value);
  Var constant(double value);  // a 1 x 1 constant
  Var param(Parameter& p);

  // Seeds d loss = 1 and walks the tape back once. The loss must be 1x1 and depend on a parameter;
  // a recorded pass can be differentiated once. Every parameter the pass recorded must still exist
  // with the shape it had then (std::logic_error naming it otherwise).
  void backward(const Var& loss);

  // Forgets the recorded pass; every handle into it goes stale. Buffers are kept for the next pass.
  void clear();

  std::size_t size() const { return size_; }               // values recorded in this pass
  std::size_t capacity() const { return nodes_.size(); }   // slots kept for reuse

  // While a NoGrad lives, ops compute values but record nothing to differentiate, and when it ends
  // the tape is rolled back to where it was: inference never grows the tape.
  class NoGrad {
   public:
    explicit NoGrad(Tape& tape);
    ~NoGrad();
    NoGrad(const NoGrad&) = delete;
    NoGrad& operator=(const NoGrad&) = delete;

   private:
    Tape& tape_;
    std::size_t mark_;
    std::uint64_t clears_;  // a clear() inside the guard leaves nothing to roll back to
    bool was_recording_;
  };
  bool recording() const { return recording_; }

  // Anomaly mode: the first op whose value or gradient is NaN or infinite throws, naming itself.
  void set_detect_anomaly(bool on) { detect_anomaly_ = on; }
  bool detect_anomaly() const { return detect_anomaly_; }

  // --- the interface ops are written against ---
  // A new slot for op with the given inputs (checked to be live handles of this tape).
  Node& record(const OpDef& op, const Var& a);
  Node& record(const OpDef& op, const Var& a, const Var& b);
  Node& record(const OpDef& op, const Var* inputs, std::size_t count);
  // The handle of a finished node (checks the value in anomaly mode).
  Var result(const Node& n);
  const Node& node(const Var& v) const;
  const Node& at(std::size_t position) const { return *nodes_.at(position); }  // read-only view
  const Matrix& value(std::uint32_t i) const {
    const Node& n = *nodes_[i];
    return n.param ? n.param->value : n.value;
  }
  Anchor* anchor() const { return anchor_; }
  bool requires_grad(std::uint32_t i) const { return nodes_[i]->requires_grad; }
  // The gradient buffer of input i, sized like its value; add is false when it holds nothing yet
  // in this pass, so the first contribution may overwrite instead of adding to zeros.
  Matrix& grad_target(std::uint32_t i, bool& add);

  // grad(i) += e; e must have input i's shape.
  template <class E>
  void accumulate(std::uint32_t i, const E& e);
  // grad(i) += e summed down to input i's shape: the backward of a broadcast.
  template <class E>
  void accumulate_sum_to(std::uint32_t i, const E& e);
  void accumulate_sum_to(std::uint32_t i, const Matrix& e);  // the same, a row at a time

 private:
  // Input i's gradient buffer for the sum of a broadcast [R x C] gradient, zeroed if it held
  // nothing yet in this pass; throws if i's shape does not broadcast to [R x C].
  Matrix& sum_to_target(std::uint32_t i, std::size_t R, std::size_t C);
  friend class Var;
  Node& new_node(const OpDef& op, bool requires_grad);
  void check_handle(const Var& v, const char* op) const;
  void check_parameters(std::size_t end) const;
  [[noreturn]] void grad_shape_error(std::uint32_t i, std::size_t rows, std::size_t cols) const;

  std::vector<std::unique_ptr<Node>> nodes_;  // unique_ptr: node addresses stay put as the tape grows
  Anchor* anchor_;
  std::size_t size_ = 0;
  std::uint64_t clears_ = 0;
  std::uint64_t next_generation_ = 1;
  bool recording_ = true;
  bool detect_anomaly_ = false;
  bool differentiated_ = false;
};

template <class E>
void Tape::accumulate(std::uint32_t i, const E& e) {
  if (!nodes_[i]->requires_grad) return;
  const auto& s = e.shape();
  const Matrix& v = value(i);
  if (s.size() != 2 || s[0] != v.shape(0) || s[1] != v.shape(1)) {
    grad_shape_error(i, s.size() > 0 ? s[0] : 0, s.size() > 1 ? s[1] : 0);
  }
  bool add = false;
  Matrix& g = grad_target(i, add);
  if (add) {
    xt::noalias(g) += e;
  } else {
    xt::noalias(g) = e;
  }
}

template <class E>
void Tape::accumulate_sum_to(std::uint32_t i, const E& e) {
  if (!nodes_[i]->requires_grad) return;
  const std::size_t R = e.shape()[0], C = e.shape()[1];
  if (value(i).shape(0) == R && value(i).shape(1) == C) return accumulate(i, e);
  Matrix& g = sum_to_target(i, R, C);
  const bool one_row = g.shape(0) == 1, one_col = g.shape(1) == 1;
  // Rows (or columns) that were broadcast in the forward pass receive the sum of their copies' grads.
  for (std::size_t a = 0; a < R; ++a) {
    for (std::size_t b = 0; b < C; ++b) g(one_row ? 0 : a, one_col ? 0 : b) += e(a, b);
  }
}

}  // namespace autograd
