#pragma once
/// \file
/// The tape: a Wengert list of every value computed in one forward pass, in creation order.
/// backward(loss) walks it back once, and each op's rule adds its inputs' shares of the gradient.
/// Also the handles (Var), the parameters (Parameter, ParamRef) and the description of an op (OpDef).
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <xtensor/xnoalias.hpp>
#include <xtensor/xtensor.hpp>

#include "autograd/tensor.hpp"

namespace autograd {

template <class T>
class BasicTape;
template <class T>
struct BasicNode;

/// An op's backward rule for precision T: read node.grad (d loss / d result) and add each input's
/// share of it to the input's gradient (BasicTape::accumulate).
template <class T>
using BasicBackwardFn = void (*)(BasicTape<T>&, const BasicNode<T>&);
using BackwardFn = BasicBackwardFn<double>;  ///< A float64 backward rule.

/// What an op is: its name (for errors) and its backward rule.
///
/// Every OpDef registers itself, so the tests can walk the list of all ops and fail when one has no
/// gradient check. Define OpDefs as objects with static storage duration (namespace-scope
/// constants, as in ops.cpp): each node of a tape points at its OpDef. One that is destroyed leaves
/// the registry.
///
/// A rule written once as a generic lambda, `[](auto& t, const auto& n) { … }`, serves both
/// precisions; one written for Tape and Node only serves float64 (a float32 tape using it throws).
struct OpDef {
  /// A leaf (constant or parameter): no backward rule.
  OpDef(const char* name, std::nullptr_t) : OpDef(name, BackwardFn(nullptr), nullptr) {}
  /// An op with a float64-only rule; a float32 tape refuses it, naming the op.
  OpDef(const char* name, BackwardFn backward) : OpDef(name, backward, nullptr) {}
  /// An op whose rule, a captureless generic lambda, serves both precisions.
  template <class Rule, class = std::enable_if_t<!std::is_convertible_v<Rule, BackwardFn> ||
                                                 std::is_convertible_v<Rule, BasicBackwardFn<float>>>>
  OpDef(const char* name, Rule rule)
      : OpDef(name, static_cast<BackwardFn>(rule), static_cast<BasicBackwardFn<float>>(rule)) {}
  ~OpDef();  ///< Leaves the registry.
  OpDef(const OpDef&) = delete;  ///< Not copyable: the registry and the tapes hold its address.
  OpDef& operator=(const OpDef&) = delete;  ///< Not assignable.

  const char* name;  ///< The op's name, as errors and gradcheck messages print it.
  BackwardFn backward;                  ///< float64 rule; nullptr for leaves (constants, parameters).
  BasicBackwardFn<float> backward_f32;  ///< float32 rule; nullptr for leaves or a float64-only rule.

  /// The rule for precision T: backward or backward_f32.
  template <class T>
  BasicBackwardFn<T> rule() const {
    if constexpr (std::is_same_v<T, float>) {
      return backward_f32;
    } else {
      return backward;
    }
  }

 private:
  OpDef(const char* name, BackwardFn f64, BasicBackwardFn<float> f32);
};
/// Every OpDef alive, in the order they were constructed.
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

/// A value that outlives a pass: weights. backward adds into grad; zeroing it is the caller's call.
///
/// Tapes and optimisers refer to a Parameter through a ParamRef, which follows it when it is moved
/// (a growing `std::vector<Parameter>`, a std::swap) and refuses with std::logic_error to touch it
/// once it is destroyed. Copying makes a new parameter; assigning copies values and keeps identity,
/// except a move assignment, after which the target is the parameter the source was.
template <class T>
class BasicParameter {
 public:
  using value_type = T;  ///< The element type.
  /// A parameter holding value, with a zero gradient of its shape; name labels it in messages.
  explicit BasicParameter(BasicMatrix<T> value, std::string name = "");
  BasicParameter(const BasicParameter& other);  ///< A new parameter with other's value, grad and name.
  BasicParameter(BasicParameter&& other) noexcept;  ///< Takes over other's identity: references follow.
  BasicParameter& operator=(const BasicParameter& other);  ///< Copies values; keeps this identity.
  /// Takes over other's values and identity: references to other now reach this one.
  BasicParameter& operator=(BasicParameter&& other) noexcept;
  ~BasicParameter();  ///< References to it refuse to touch it from now on.
  void zero_grad();  ///< Sets grad to zeros of value's shape.

  BasicMatrix<T> value;  ///< The current value.
  BasicMatrix<T> grad;  ///< d loss / d value, added to by each backward; same shape as value.
  std::string name;  ///< Names the parameter in error and gradcheck messages (may be empty).

 private:
  template <class>
  friend class BasicParamRef;
  Anchor* anchor_ = nullptr;  // null only after being moved from; a new one is made on demand
};

/// How a tape or an optimiser holds a Parameter (see BasicParameter): it follows the parameter when
/// it moves and knows when it is destroyed.
template <class T>
class BasicParamRef {
 public:
  BasicParamRef() = default;  ///< Refers to nothing.
  /// Refers to p. Implicit, so that a list of Parameter pointers converts.
  BasicParamRef(BasicParameter<T>& p);  // NOLINT: implicit, so a Parameter* list converts
  /// Refers to *p.
  BasicParamRef(BasicParameter<T>* p) : BasicParamRef(*p) {}  // NOLINT
  /// True while the parameter referred to exists.
  bool alive() const { return anchor_ != nullptr && anchor_->serial == serial_; }
  /// The parameter where it lives now; throws std::logic_error if it was destroyed.
  BasicParameter<T>* get() const;
  BasicParameter<T>* operator->() const { return get(); }  ///< get().
  BasicParameter<T>& operator*() const { return *get(); }  ///< *get().
  /// It refers to a parameter (alive or not).
  explicit operator bool() const { return anchor_ != nullptr; }

 private:
  Anchor* anchor_ = nullptr;
  std::uint64_t serial_ = 0;
};

/// One recorded value: what an op's backward rule reads. Slots are reused from pass to pass, so
/// their buffers are allocated once.
template <class T>
struct BasicNode {
  using value_type = T;  ///< The element type.
  static constexpr std::uint32_t none = UINT32_MAX;  ///< A position that is no position.

  const OpDef* op = nullptr;  ///< The op that made this value.
  BasicParamRef<T> param;                     ///< Set for parameter leaves; their value lives there.
  std::vector<std::uint32_t> in;        ///< Tape positions of the inputs (capacity kept across passes).
  std::uint32_t index = 0;              ///< Own tape position.
  std::uint64_t generation = 0;         ///< Tells a stale handle from the slot's current value.
  T scalar = 0;                         ///< Op attribute: a scale factor, 1/N of a mean reduction.
  /// Op attributes: an axis, a slice's ranges; for parameter
  /// leaves the shape recorded, checked again by backward.
  std::array<std::size_t, 4> attr{};
  bool requires_grad = false;           ///< Some parameter reaches this value.
  bool has_grad = false;                ///< grad holds this pass's gradient.
  bool shaped = false;                  ///< The op set shape itself (else result() takes value's).
  /// The value's shape, of any rank; value (and grad) hold its elements as a matrix of
  /// matrix_shape(shape), in the same row-major order.
  Shape shape;
  BasicMatrix<T> value;                 ///< The op's result (empty for parameter leaves).
  BasicMatrix<T> grad;                  ///< d loss / d value.
  BasicMatrix<T> saved;                 ///< What backward needs beyond inputs and result.
  Labels labels;                        ///< Class labels of a cross-entropy.
};

/// The handle a user holds: a position on a tape. Cheap to copy; goes stale when the tape is
/// cleared, and using a stale handle throws std::logic_error.
template <class T>
class BasicVar {
 public:
  using value_type = T;  ///< The element type.
  /// An empty handle: no value yet, the zero of + and +=.
  BasicVar() = default;
  /// The value recorded (a parameter's current value for a parameter leaf). A value of rank
  /// other than 2 is given as the matrix it is stored as: its last dimension as the columns, all
  /// the others multiplied out as the rows (matrix_shape()); tensor() gives it in its own shape.
  const BasicMatrix<T>& value() const;
  /// d loss / d this value after backward (zeros if the loss does not depend on it), stored as
  /// value() is.
  const BasicMatrix<T>& grad() const;
  /// The value's shape, of any rank: {rows, cols} for a matrix, {} for a scalar.
  const Shape& shape() const;
  std::size_t dim() const { return shape().size(); }  ///< The rank: shape().size().
  /// A copy of the value in its own shape (of any rank).
  BasicTensor<T> tensor() const;
  /// A copy of the gradient (as grad()) in the value's shape.
  BasicTensor<T> grad_tensor() const;
  std::size_t rows() const { return value().shape(0); }  ///< value()'s row count.
  std::size_t cols() const { return value().shape(1); }  ///< value()'s column count.
  /// The tape it is on; throws std::logic_error if the handle is empty or its tape destroyed.
  BasicTape<T>& tape() const;
  std::uint32_t index() const { return index_; }  ///< Its position on the tape.
  bool empty() const { return anchor_ == nullptr; }  ///< Default-constructed: no value yet.

 private:
  friend class BasicTape<T>;
  BasicVar(Anchor* anchor, std::uint32_t index, std::uint64_t generation)
      : anchor_(anchor), serial_(anchor->serial), index_(index), generation_(generation) {}
  Anchor* anchor_ = nullptr;   // the tape's cell: a destroyed tape is detected, not dereferenced
  std::uint64_t serial_ = 0;
  std::uint32_t index_ = 0;
  std::uint64_t generation_ = 0;
};

/// The tape: records one forward pass of ops, then differentiates it with backward().
///
/// A pass is recorded by calling ops on handles of this tape (constant(), param(), then ops); clear()
/// starts the next pass and keeps every buffer, so that steady-state training allocates nothing.
///
/// A tape belongs to one thread: the first to record on it (or to use one of its handles) after
/// it was made or last cleared. Any other thread that records, reads a handle, differentiates or
/// clears it gets a std::logic_error naming the tape, and the tape is left as it was; give each
/// thread its own tape. The owner's clear() frees it for another thread (after the two have
/// synchronised, e.g. by a join). The engine's own thread pool never touches a tape.
template <class T>
class BasicTape {
 public:
  using value_type = T;  ///< The element type.
  using Matrix = BasicMatrix<T>;  ///< A matrix of T.
  using Var = BasicVar<T>;  ///< A handle on this kind of tape.
  using Node = BasicNode<T>;  ///< A recorded value.
  using Parameter = BasicParameter<T>;  ///< A parameter of T.

  BasicTape();  ///< An empty tape, recording.
  ~BasicTape();  ///< Handles into it go stale (using them throws std::logic_error).
  BasicTape(const BasicTape&) = delete;             ///< Not copyable: handles point at their tape.
  BasicTape& operator=(const BasicTape&) = delete;  ///< Not assignable.

  /// A leaf: value is copied onto the tape (into a reused buffer) and gets no gradient.
  Var constant(const Matrix& value);
  Var constant(T value);  ///< A 1 x 1 constant.
  /// A constant of any rank (0 through max_rank): value is copied onto the tape. Ids, masks and
  /// inputs of shape [B, T, d] or [N, C, H, W] join the tape this way.
  Var tensor(const BasicTensor<T>& value);
  /// A leaf for a parameter: its value is read where it lives (not copied), and backward adds its
  /// gradient to p.grad. The same parameter may be recorded any number of times.
  Var param(Parameter& p);

  /// Seeds d loss = 1 and walks the tape back once. The loss must be 1x1 and depend on a parameter;
  /// a recorded pass can be differentiated once. Every parameter the pass recorded must still exist
  /// with the shape it had then (std::logic_error naming it otherwise).
  void backward(const Var& loss);

  /// Forgets the recorded pass; every handle into it goes stale. Buffers are kept for the next pass.
  void clear();

  std::size_t size() const { return size_; }               ///< Values recorded in this pass.
  std::size_t capacity() const { return nodes_.size(); }   ///< Slots kept for reuse.

  /// A scope for inference: the tape records nothing to differentiate while it lives.
  ///
  /// While a NoGrad lives, ops compute values but record nothing to differentiate, and when it ends
  /// the tape is rolled back to where it was: inference never grows the tape.
  ///
  /// `Tape::NoGrad guard(tape);` Handles made inside the guard go stale when it ends. A guard that
  /// outlives its tape does nothing when it ends.
  class NoGrad {
   public:
    explicit NoGrad(BasicTape& tape);  ///< Stops recording on tape until the guard ends.
    ~NoGrad();  ///< Rolls the tape back and restores recording as it was (if the tape still exists).
    NoGrad(const NoGrad&) = delete;  ///< Not copyable.
    NoGrad& operator=(const NoGrad&) = delete;  ///< Not assignable.

   private:
    Anchor* anchor_;  // the tape's liveness cell: a destroyed tape is detected, not dereferenced
    std::uint64_t serial_;
    std::size_t mark_;
    std::uint64_t clears_;  // a clear() inside the guard leaves nothing to roll back to
    bool was_recording_;
  };
  bool recording() const { return recording_; }  ///< False inside a NoGrad scope.

  /// Anomaly mode: the first op whose value or gradient is NaN or infinite throws, naming itself
  /// and its tape position.
  void set_detect_anomaly(bool on) { detect_anomaly_ = on; }
  bool detect_anomaly() const { return detect_anomaly_; }  ///< Whether anomaly mode is on.

  // --- the interface ops are written against ---
  /// A new slot for op with input a (checked to be a live handle of this tape). The op fills its
  /// value, then returns result().
  Node& record(const OpDef& op, const Var& a);
  /// A new slot for op with inputs a and b, as record(op, a).
  Node& record(const OpDef& op, const Var& a, const Var& b);
  /// A new slot for op with count inputs, as record(op, a).
  Node& record(const OpDef& op, const Var* inputs, std::size_t count);
  /// The handle of a finished node (checks the value in anomaly mode).
  Var result(const Node& n);
  /// The node a handle refers to; throws std::logic_error for a stale handle or one of another tape.
  const Node& node(const Var& v) const;
  /// Read-only view of the slot at a position (std::out_of_range beyond capacity()).
  const Node& at(std::size_t position) const { return *nodes_.at(position); }  // read-only view
  /// The value at position i: the node's result, or a parameter leaf's current value. For rules.
  const Matrix& value(std::uint32_t i) const {
    const Node& n = *nodes_[i];
    return n.param ? n.param->value : n.value;
  }
  /// The shape of the value at position i (of any rank). For rules and forwards.
  const Shape& shape(std::uint32_t i) const { return nodes_[i]->shape; }
  /// For ops of any rank: sizes n.value for the shape the op wrote into n.shape (checked: an
  /// overflowing count or a rank above max_rank throws std::invalid_argument naming the op).
  void shape_value(Node& n);
  /// For elementwise ops: n gets the shape of the value at position i, and n.value its size.
  void shape_like(Node& n, std::uint32_t i);
  /// The tape's liveness cell, which handles keep to detect a destroyed tape. Internal.
  Anchor* anchor() const { return anchor_; }
  /// Whether some parameter reaches the value at position i (a rule may skip it otherwise).
  bool requires_grad(std::uint32_t i) const { return nodes_[i]->requires_grad; }
  /// The gradient buffer of input i, sized like its value. add is false when it holds nothing yet
  /// in this pass, so the first contribution may overwrite instead of adding to zeros.
  Matrix& grad_target(std::uint32_t i, bool& add);

  /// grad(i) += e; e must have input i's shape.
  template <class E>
  void accumulate(std::uint32_t i, const E& e);
  /// grad(i) += e summed down to input i's shape: the backward of a broadcast.
  template <class E>
  void accumulate_sum_to(std::uint32_t i, const E& e);
  /// accumulate_sum_to() for a Matrix, summed a row at a time.
  void accumulate_sum_to(std::uint32_t i, const Matrix& e);  // the same, a row at a time

 private:
  // Input i's gradient buffer for the sum of a broadcast [R x C] gradient, zeroed if it held
  // nothing yet in this pass; throws if i's shape does not broadcast to [R x C].
  Matrix& sum_to_target(std::uint32_t i, std::size_t R, std::size_t C);
  friend class BasicVar<T>;
  Node& new_node(const OpDef& op, bool requires_grad);
  // Throws std::logic_error naming op and the tape unless the calling thread owns the tape, or it
  // is free (which take claims it from). A compare of thread ids when the caller owns it.
  void own(const char* op, bool take = true) const {
    const std::thread::id self = std::this_thread::get_id();
    if (owner_.load(std::memory_order_relaxed) != self) claim(op, self, take);
  }
  void claim(const char* op, std::thread::id self, bool take) const;
  void check_handle(const Var& v, const char* op) const;
  void check_parameters(std::size_t end) const;
  [[noreturn]] void grad_shape_error(std::uint32_t i, std::size_t rows, std::size_t cols) const;

  std::vector<std::unique_ptr<Node>> nodes_;  // unique_ptr: node addresses stay put as the tape grows
  Anchor* anchor_;
  mutable std::atomic<std::thread::id> owner_{};  // the thread recording on it; none when free
  std::size_t size_ = 0;
  std::uint64_t clears_ = 0;
  std::uint64_t next_generation_ = 1;
  bool recording_ = true;
  bool detect_anomaly_ = false;
  bool differentiated_ = false;
};

template <class T>
template <class E>
void BasicTape<T>::accumulate(std::uint32_t i, const E& e) {
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

template <class T>
template <class E>
void BasicTape<T>::accumulate_sum_to(std::uint32_t i, const E& e) {
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

// The float64 engine under its plain names, as the proofs and the blog use it, and both precisions
// under one set of names in a namespace each: `using namespace autograd::f32;` switches a model.
using Tape = BasicTape<double>;  ///< The float64 tape.
using Var = BasicVar<double>;  ///< A handle on a float64 tape.
using Node = BasicNode<double>;  ///< A value recorded on a float64 tape.
using Parameter = BasicParameter<double>;  ///< A float64 parameter.
using ParamRef = BasicParamRef<double>;  ///< A reference to a float64 parameter.

/// The float64 engine under the same names as autograd::f32, for code that names its precision.
namespace f64 {
using autograd::Labels;
using Matrix = BasicMatrix<double>;  ///< A float64 matrix.
using Tape = BasicTape<double>;  ///< The float64 tape.
using Var = BasicVar<double>;  ///< A handle on a float64 tape.
using Node = BasicNode<double>;  ///< A value recorded on a float64 tape.
using Parameter = BasicParameter<double>;  ///< A float64 parameter.
using ParamRef = BasicParamRef<double>;  ///< A reference to a float64 parameter.
}  // namespace f64

/// The float32 engine under the plain names: `using namespace autograd::f32;` switches a model.
namespace f32 {
using autograd::Labels;
using Matrix = BasicMatrix<float>;  ///< A float32 matrix.
using Tape = BasicTape<float>;  ///< The float32 tape.
using Var = BasicVar<float>;  ///< A handle on a float32 tape.
using Node = BasicNode<float>;  ///< A value recorded on a float32 tape.
using Parameter = BasicParameter<float>;  ///< A float32 parameter.
using ParamRef = BasicParamRef<float>;  ///< A reference to a float32 parameter.
}  // namespace f32

extern template class BasicParameter<double>;
extern template class BasicParameter<float>;
extern template class BasicParamRef<double>;
extern template class BasicParamRef<float>;
extern template class BasicVar<double>;
extern template class BasicVar<float>;
extern template class BasicTape<double>;
extern template class BasicTape<float>;

}  // namespace autograd
