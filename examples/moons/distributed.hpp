#pragma once
// The moons program under mpirun (built when the project finds MPI; see distributed.cpp).

namespace moons {

// True when this process was started by mpirun/mpiexec.
bool under_mpirun();

// Trains one model together with the other ranks; returns the exit code. Errors are printed once
// and end every rank with a non-zero exit.
int run_under_mpirun(int argc, char** argv);

}  // namespace moons
