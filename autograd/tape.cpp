#include "autograd/tape.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <mutex>

#include "autograd/parallel.hpp"

namespace autograd {

namespace {

std::vector<const OpDef*>& op_registry() {
  static std::vector<const OpDef*> ops;
  return ops;
}

template <class T>
bool all_finite(const BasicMatrix<T>& m) {
  for (T x : m) {
    if (!std::isfinite(x)) return false;
  }
  return true;
}

const OpDef constant_op{"constant", nullptr};
const OpDef parameter_op{"parameter", nullptr};

}  // namespace

OpDef::OpDef(const char* op_name, BackwardFn f64, BasicBackwardFn<float> f32)
    : name(op_name), backward(f64), backward_f32(f32) {
  op_registry().push_back(this);
}

OpDef::~OpDef() {
  auto& ops = op_registry();
  ops.erase(std::remove(ops.begin(), ops.end(), this), ops.end());
}

const std::vector<const OpDef*>& registered_ops() { return op_registry(); }

// ---------------------------------------------------------------------------------------------------
// Anchors: a free list of cells allocated in blocks that are never returned.

namespace {
std::mutex anchor_mutex;
// Never destroyed: the cells it lists stay reachable at exit (no LeakSanitizer report), and a
// Tape or Parameter destroyed during static destruction still has a list to return its cell to.
std::vector<Anchor*>& free_anchors = *new std::vector<Anchor*>();
std::uint64_t next_anchor_serial = 1;
}  // namespace

Anchor* Anchor::acquire(void* object) {
  std::lock_guard<std::mutex> lock(anchor_mutex);
  if (free_anchors.empty()) {
    constexpr std::size_t block = 256;
    Anchor* cells = new Anchor[block];  // never deleted: handles may read a cell at any time
    for (std::size_t i = block; i-- > 0;) free_anchors.push_back(&cells[i]);
  }
  Anchor* a = free_anchors.back();
  free_anchors.pop_back();
  a->object = object;
  a->serial = next_anchor_serial++;
  return a;
}

void Anchor::release(Anchor* anchor) {
  if (anchor == nullptr) return;
  std::lock_guard<std::mutex> lock(anchor_mutex);
  anchor->object = nullptr;
  anchor->serial = 0;
  free_anchors.push_back(anchor);
}

// ---------------------------------------------------------------------------------------------------
// Parameter

template <class T>
BasicParameter<T>::BasicParameter(BasicMatrix<T> v, std::string n)
    : value(std::move(v)), grad(BasicMatrix<T>::from_shape(value.shape())), name(std::move(n)),
      anchor_(Anchor::acquire(this)) {
  grad.fill(T(0));
}

template <class T>
BasicParameter<T>::BasicParameter(const BasicParameter& other)
    : value(other.value), grad(other.grad), name(other.name), anchor_(Anchor::acquire(this)) {}

template <class T>
BasicParameter<T>::BasicParameter(BasicParameter&& other) noexcept
    : value(std::move(other.value)), grad(std::move(other.grad)), name(std::move(other.name)),
      anchor_(other.anchor_) {
  other.anchor_ = nullptr;
  if (anchor_) anchor_->object = this;
}

template <class T>
BasicParameter<T>& BasicParameter<T>::operator=(const BasicParameter& other) {
  value = other.value;
  grad = other.grad;
  name = other.name;
  return *this;
}

template <class T>
BasicParameter<T>& BasicParameter<T>::operator=(BasicParameter&& other) noexcept {
  value = std::move(other.value);
  grad = std::move(other.grad);
  name = std::move(other.name);
  std::swap(anchor_, other.anchor_);  // the references to other now reach this, and back
  if (anchor_) anchor_->object = this;
  if (other.anchor_) other.anchor_->object = &other;
  return *this;
}

template <class T>
BasicParameter<T>::~BasicParameter() {
  Anchor::release(anchor_);
}

template <class T>
BasicParamRef<T>::BasicParamRef(BasicParameter<T>& p) {
  if (p.anchor_ == nullptr) p.anchor_ = Anchor::acquire(&p);  // a moved-from parameter, reused
  anchor_ = p.anchor_;
  serial_ = anchor_->serial;
}

template <class T>
BasicParameter<T>* BasicParamRef<T>::get() const {
  if (!alive()) {
    throw std::logic_error(anchor_ == nullptr ? "parameter: empty reference"
                                              : "parameter: it was destroyed while still in use "
                                                "(by a recorded pass or an optimiser)");
  }
  return static_cast<BasicParameter<T>*>(anchor_->object);
}

template <class T>
void BasicParameter<T>::zero_grad() {
  if (grad.shape() != value.shape()) grad.resize(value.shape());
  grad.fill(T(0));
}

// ---------------------------------------------------------------------------------------------------
// Var

template <class T>
BasicTape<T>& BasicVar<T>::tape() const {
  if (anchor_ == nullptr) throw std::logic_error("Var: this handle was never given a value");
  if (anchor_->serial != serial_) throw std::logic_error("Var: this handle's tape was destroyed");
  return *static_cast<BasicTape<T>*>(anchor_->object);
}

template <class T>
const BasicMatrix<T>& BasicVar<T>::value() const {
  const BasicNode<T>& n = tape().node(*this);
  return n.param ? n.param->value : n.value;
}

template <class T>
const Shape& BasicVar<T>::shape() const {
  return tape().node(*this).shape;
}

namespace {
template <class T>
BasicTensor<T> as_tensor(const BasicMatrix<T>& m, const Shape& shape) {
  BasicTensor<T> out = BasicTensor<T>::from_shape(shape);
  std::copy(m.data(), m.data() + m.size(), out.data());
  return out;
}
}  // namespace

template <class T>
BasicTensor<T> BasicVar<T>::tensor() const {
  return as_tensor(value(), shape());
}

template <class T>
BasicTensor<T> BasicVar<T>::grad_tensor() const {
  return as_tensor(grad(), shape());
}

template <class T>
const BasicMatrix<T>& BasicVar<T>::grad() const {
  const BasicNode<T>& cn = tape().node(*this);
  if (cn.param) return cn.param->grad;
  if (!cn.requires_grad) {
    throw std::logic_error(std::string("grad: this ") + cn.op->name +
                           " depends on no parameter, so it has no gradient");
  }
  BasicNode<T>& n = *tape().nodes_[index_];
  if (!n.has_grad) {  // no gradient has reached it (yet): zero
    // has_grad stays false: backward must not run this node's rule for a loss that never reaches
    // it (0 · inf would be NaN), and a later contribution overwrites these zeros.
    n.grad.resize(n.value.shape());
    n.grad.fill(T(0));
  }
  return n.grad;
}

// ---------------------------------------------------------------------------------------------------
// Tape

template <class T>
BasicTape<T>::BasicTape() : anchor_(Anchor::acquire(this)) {}

template <class T>
BasicTape<T>::~BasicTape() {
  Anchor::release(anchor_);
}

template <class T>
void BasicTape<T>::claim(const char* op, std::thread::id self, bool take) const {
  std::thread::id free{};
  if (!take && owner_.load(std::memory_order_acquire) == free) return;  // its handles are all stale
  if (take && owner_.compare_exchange_strong(free, self, std::memory_order_acq_rel)) return;
  char address[32];
  std::snprintf(address, sizeof address, "%p", static_cast<const void*>(this));
  throw std::logic_error(std::string(op) + ": the " + dtype_name<T>() + " tape at " + address +
                         " is being used by another thread (a Tape belongs to the thread that " +
                         "records on it until that thread clears it; give each thread its own tape)");
}

template <class T>
void BasicTape<T>::check_handle(const Var& v, const char* op) const {
  own(op, false);
  if (v.anchor_ == nullptr) {
    throw std::logic_error(std::string(op) + ": input handle was never given a value");
  }
  if (v.anchor_->serial != v.serial_) {
    throw std::logic_error(std::string(op) + ": input handle's tape was destroyed");
  }
  if (v.anchor_ != anchor_) {
    throw std::invalid_argument(std::string(op) + ": inputs belong to different tapes");
  }
  if (v.index_ >= size_ || nodes_[v.index_]->generation != v.generation_) {
    throw std::logic_error(std::string(op) + ": input handle is stale (its tape was cleared or " +
                           "rolled back after it was recorded)");
  }
  const BasicParamRef<T>& p = nodes_[v.index_]->param;
  if (p && !p.alive()) {
    throw std::logic_error(std::string(op) + ": the parameter behind an input handle was destroyed");
  }
  if (p) {  // its shape as recorded is the handle's shape: a parameter reshaped since is refused
    const Node& n = *nodes_[v.index_];
    const Matrix& now = p->value;
    if (now.shape(0) != n.attr[0] || now.shape(1) != n.attr[1]) {
      throw std::logic_error(std::string(op) + ": parameter '" + p->name + "' was [" +
                             std::to_string(n.attr[0]) + " x " + std::to_string(n.attr[1]) +
                             "] when recorded and is now " + shape_str(now) +
                             "; record it again (tape.param) after reshaping it");
    }
  }
}

template <class T>
const typename BasicTape<T>::Node& BasicTape<T>::node(const Var& v) const {
  check_handle(v, "Var");
  return *nodes_[v.index_];
}

template <class T>
typename BasicTape<T>::Node& BasicTape<T>::new_node(const OpDef& op, bool requires_grad) {
  own(op.name);
  if (size_ == nodes_.size()) nodes_.push_back(std::make_unique<Node>());
  Node& n = *nodes_[size_];
  n.op = &op;
  n.param = BasicParamRef<T>();
  n.in.clear();
  n.index = static_cast<std::uint32_t>(size_);
  n.generation = next_generation_++;
  n.scalar = 0.0;
  n.requires_grad = requires_grad && recording_;
  n.has_grad = false;
  n.shaped = false;
  ++size_;
  return n;
}

template <class T>
typename BasicTape<T>::Node& BasicTape<T>::record(const OpDef& op, const Var& a) {
  check_handle(a, op.name);
  Node& n = new_node(op, nodes_[a.index_]->requires_grad);
  n.in.push_back(a.index_);
  return n;
}

template <class T>
typename BasicTape<T>::Node& BasicTape<T>::record(const OpDef& op, const Var& a, const Var& b) {
  check_handle(a, op.name);
  check_handle(b, op.name);
  Node& n = new_node(op, nodes_[a.index_]->requires_grad || nodes_[b.index_]->requires_grad);
  n.in.push_back(a.index_);
  n.in.push_back(b.index_);
  return n;
}

template <class T>
typename BasicTape<T>::Node& BasicTape<T>::record(const OpDef& op, const Var* inputs, std::size_t count) {
  bool requires = false;
  for (std::size_t k = 0; k < count; ++k) {
    check_handle(inputs[k], op.name);
    requires = requires || nodes_[inputs[k].index_]->requires_grad;
  }
  Node& n = new_node(op, requires);
  for (std::size_t k = 0; k < count; ++k) n.in.push_back(inputs[k].index_);
  return n;
}

template <class T>
typename BasicTape<T>::Var BasicTape<T>::result(const Node& n_) {
  Node& n = *nodes_[n_.index];
  if (!n.shaped) {  // an op of matrices: the value's own shape
    n.shape.resize(2);
    n.shape[0] = n.value.shape(0);
    n.shape[1] = n.value.shape(1);
  } else if (matrix_shape(n.shape) != std::array<std::size_t, 2>{n.value.shape(0), n.value.shape(1)}) {
    size_ = n.index;
    throw std::logic_error(std::string(n.op->name) + ": the value's storage " + shape_str(n.value) +
                           " does not hold its shape " + shape_str(n.shape));
  }
  if (detect_anomaly_ && !all_finite(n.value)) {
    size_ = n.index;  // the failed op leaves nothing on the tape
    throw std::runtime_error(std::string("anomaly: ") + n.op->name + " at tape position " +
                             std::to_string(n.index) + " produced a non-finite value");
  }
  return Var(anchor_, n.index, n.generation);
}

template <class T>
typename BasicTape<T>::Var BasicTape<T>::constant(const Matrix& value) {
  Node& n = new_node(constant_op, false);
  n.value.resize(value.shape());
  xt::noalias(n.value) = value;
  return result(n);
}

template <class T>
typename BasicTape<T>::Var BasicTape<T>::constant(T value) {
  Node& n = new_node(constant_op, false);
  n.value.resize({1, 1});
  n.value(0, 0) = value;
  return result(n);
}

template <class T>
typename BasicTape<T>::Var BasicTape<T>::tensor(const BasicTensor<T>& value) {
  Node& n = new_node(constant_op, false);
  n.shape.assign(value.shape().begin(), value.shape().end());
  try {
    shape_value(n);
  } catch (...) {
    size_ = n.index;
    throw;
  }
  std::copy(value.data(), value.data() + value.size(), n.value.data());
  return result(n);
}

template <class T>
void BasicTape<T>::shape_value(Node& n) {
  if (n.shape.size() > max_rank) {
    throw std::invalid_argument(std::string(n.op->name) + ": a " + shape_str(n.shape) +
                                " value has rank " + std::to_string(n.shape.size()) +
                                ", more than the engine's " + std::to_string(max_rank));
  }
  checked_count<T>(n.op->name, n.shape);
  n.value.resize(matrix_shape(n.shape));
  n.shaped = true;
}

template <class T>
void BasicTape<T>::shape_like(Node& n, std::uint32_t i) {
  const Node& src = *nodes_[i];
  n.shape.assign(src.shape.begin(), src.shape.end());
  n.value.resize(matrix_shape(n.shape));
  n.shaped = true;
}

template <class T>
typename BasicTape<T>::Var BasicTape<T>::param(Parameter& p) {
  own("param");  // before p is read: another thread's backward may be writing it
  if (p.grad.shape() != p.value.shape()) p.zero_grad();
  Node& n = new_node(parameter_op, true);
  n.param = BasicParamRef<T>(p);
  n.attr[0] = p.value.shape(0);
  n.attr[1] = p.value.shape(1);
  n.shape.resize(2);
  n.shape[0] = n.attr[0];
  n.shape[1] = n.attr[1];
  n.shaped = true;
  return Var(anchor_, n.index, n.generation);
}

template <class T>
typename BasicTape<T>::Matrix& BasicTape<T>::grad_target(std::uint32_t i, bool& add) {
  Node& n = *nodes_[i];
  if (n.param) {
    add = true;
    return n.param->grad;
  }
  add = n.has_grad;
  if (!add) {
    n.grad.resize(n.value.shape());
    n.has_grad = true;
  }
  return n.grad;
}

template <class T>
typename BasicTape<T>::Matrix& BasicTape<T>::sum_to_target(std::uint32_t i, std::size_t R, std::size_t C) {
  const Matrix& v = value(i);
  if ((v.shape(0) != R && v.shape(0) != 1) || (v.shape(1) != C && v.shape(1) != 1)) {
    grad_shape_error(i, R, C);
  }
  bool add = false;
  Matrix& g = grad_target(i, add);
  if (!add) g.fill(T(0));
  return g;
}

template <class T>
void BasicTape<T>::accumulate_sum_to(std::uint32_t i, const Matrix& e) {
  if (!nodes_[i]->requires_grad) return;
  const std::size_t R = e.shape(0), C = e.shape(1);
  if (value(i).shape(0) == R && value(i).shape(1) == C) {
    // A copy, or a sum on a second contribution, block by block on the engine's threads.
    bool add = false;
    Matrix& g = grad_target(i, add);
    const T* src = e.data();
    T* dst = g.data();
    detail::for_ranges(e.size(), [&](std::size_t begin, std::size_t end) {
      if (add) {
        for (std::size_t k = begin; k < end; ++k) dst[k] += src[k];
      } else {
        std::copy(src + begin, src + end, dst + begin);
      }
    });
    return;
  }
  Matrix& g = sum_to_target(i, R, C);
  const std::size_t r = g.shape(0), c = g.shape(1);
  // As the template above, with row pointers instead of g(a, b): the element-indexed loop was 9%
  // of training the blog's net. Row blocks (parallel.hpp) on the engine's threads.
  if (r == 1 && c == C) {  // a bias row: the column sums
    detail::add_column_sums(e.data(), R, C, g.data());
    return;
  }
  // A column (R x 1) gets each row's sum; a 1 x 1 gets them all, added in row order.
  T* row_sums = r == 1 ? detail::scratch<T>(R) : nullptr;
  detail::for_rows(R, C, [&](std::size_t, std::size_t a0, std::size_t a1) {
    for (std::size_t a = a0; a < a1; ++a) {
      const T* ea = e.data() + a * C;
      T s = 0;
      for (std::size_t b = 0; b < C; ++b) s += ea[b];
      if (row_sums != nullptr) {
        row_sums[a] = s;
      } else {
        g.data()[a] += s;
      }
    }
  });
  if (row_sums != nullptr) {
    for (std::size_t a = 0; a < R; ++a) g.data()[0] += row_sums[a];
  }
}

template <class T>
void BasicTape<T>::grad_shape_error(std::uint32_t i, std::size_t rows, std::size_t cols) const {
  const Node& n = *nodes_[i];
  throw std::logic_error("backward: a gradient of shape [" + std::to_string(rows) + " x " +
                         std::to_string(cols) + "] reached " + n.op->name + " at tape position " +
                         std::to_string(i) + ", whose value is " + shape_str(value(i)));
}

// Every parameter recorded before `end` still exists, with the shape it was recorded with, and a
// gradient of that shape: the backward rules (and BLAS) write into those buffers.
template <class T>
void BasicTape<T>::check_parameters(std::size_t end) const {
  for (std::size_t k = 0; k < end; ++k) {
    const Node& n = *nodes_[k];
    if (!n.param) continue;
    if (!n.param.alive()) {
      throw std::logic_error("backward: the parameter recorded at tape position " +
                             std::to_string(k) + " was destroyed before backward");
    }
    const BasicParameter<T>& p = *n.param;
    const auto same = [&](const Matrix& m) { return m.shape(0) == n.attr[0] && m.shape(1) == n.attr[1]; };
    if (!same(p.value) || !same(p.grad)) {
      throw std::logic_error("backward: parameter '" + p.name + "' at tape position " +
                             std::to_string(k) + " was [" + std::to_string(n.attr[0]) + " x " +
                             std::to_string(n.attr[1]) + "]" +
                             " when recorded and is now " + shape_str(p.value) + " (its grad " +
                             shape_str(p.grad) + "); record the pass again after reshaping it");
    }
  }
}

template <class T>
void BasicTape<T>::backward(const Var& loss) {
  check_handle(loss, "backward");  // checks the owner too
  Node& l = *nodes_[loss.index_];
  const Matrix& loss_value = value(loss.index_);
  if (loss_value.shape(0) != 1 || loss_value.shape(1) != 1) {
    throw std::logic_error("backward: the loss must be 1 x 1, got " + shape_str(loss_value) +
                           " from " + l.op->name);
  }
  if (differentiated_) {
    throw std::logic_error("backward: this pass was already differentiated; clear() the tape and "
                           "record a new pass");
  }
  if (!l.requires_grad) {
    throw std::logic_error("backward: the loss depends on no parameter (or was recorded under "
                           "NoGrad)");
  }
  check_parameters(loss.index_ + 1);
  differentiated_ = true;
  if (l.param) {  // the loss is a parameter itself: d w / d w = 1
    l.param->grad(0, 0) += T(1);
    return;
  }
  l.grad.resize({1, 1});
  l.grad(0, 0) = T(1);
  l.has_grad = true;
  for (std::size_t k = loss.index_ + 1; k-- > 0;) {
    const Node& n = *nodes_[k];
    if (!n.requires_grad || !n.has_grad || n.op->backward == nullptr) continue;
    const BasicBackwardFn<T> rule = n.op->template rule<T>();
    if (rule == nullptr) {
      throw std::logic_error(std::string("backward: ") + n.op->name + " at tape position " +
                             std::to_string(k) + " has no " + dtype_name<T>() + " rule");
    }
    rule(*this, n);
    if (!detect_anomaly_) continue;
    for (std::uint32_t in : n.in) {
      if (in == Node::none || !nodes_[in]->requires_grad) continue;
      const Node& src = *nodes_[in];
      if (!all_finite(src.param ? src.param->grad : src.grad)) {
        throw std::runtime_error(std::string("anomaly: the backward of ") + n.op->name +
                                 " at tape position " + std::to_string(k) +
                                 " produced a non-finite gradient for its input at position " +
                                 std::to_string(in));
      }
    }
  }
}

template <class T>
void BasicTape<T>::clear() {
  own("clear");
  size_ = 0;
  differentiated_ = false;
  ++clears_;
  owner_.store(std::thread::id{}, std::memory_order_release);  // free for another thread
}

template <class T>
BasicTape<T>::NoGrad::NoGrad(BasicTape& tape)
    : anchor_(tape.anchor_), serial_(tape.anchor_->serial), mark_(tape.size_), clears_(tape.clears_),
      was_recording_(tape.recording_) {
  tape.own("NoGrad");
  tape.recording_ = false;
}

template <class T>
BasicTape<T>::NoGrad::~NoGrad() {
  if (anchor_->serial != serial_) return;  // the tape is gone: nothing to restore
  BasicTape& tape = *static_cast<BasicTape*>(anchor_->object);
  // Rolling back past a clear() would bring the cleared pass's handles back to life.
  tape.size_ = tape.clears_ == clears_ ? mark_ : 0;
  tape.recording_ = was_recording_;
}

template class BasicParameter<double>;
template class BasicParameter<float>;
template class BasicParamRef<double>;
template class BasicParamRef<float>;
template class BasicVar<double>;
template class BasicVar<float>;
template class BasicTape<double>;
template class BasicTape<float>;

}  // namespace autograd
