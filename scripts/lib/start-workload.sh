# The start-up workload's program and settings, for the start-* scripts (sourced after `here`
# is set to the checkout): src/bench/workloads/transform-start.cjs requiring typescript, marked
# and yaml from this checkout's node_modules, instrumented at the calls level.
#   start_program    the workload file
#   start_params     its parameters (JSON)
#   start_functions  scope run's --functions settings (JSON)
start_program="$here/src/bench/workloads/transform-start.cjs"
start_params="{\"modules\":[\"$here/node_modules/typescript-js\",\"$here/node_modules/marked\",\"$here/node_modules/yaml\"]}"
start_functions="{\"root\":\"$here\",\"include\":[\"node_modules/typescript-js/**\",\"node_modules/marked/**\",\"node_modules/yaml/**\"],\"level\":\"calls\"}"
