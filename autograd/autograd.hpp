#pragma once
/// \file
/// Everything a model needs: the tape, the ops, and the gradient checker. Include this one header
/// to use the engine.
#include "autograd/gradcheck.hpp"
#include "autograd/ops.hpp"
#include "autograd/tape.hpp"
#include "autograd/tensor.hpp"
