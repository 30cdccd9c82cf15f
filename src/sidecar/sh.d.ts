// The sidecar's shell programs are .sh files next to their callers, which
// the bundler (and jest) load as text; shellcheck checks them in the lint run.
declare module '*.sh' {
  const text: string;
  export default text;
}

// The same for the Python programs that run on a cluster with the user's
// own interpreter (kernels/relay.py); py_compile checks them in the lint run.
declare module '*.py' {
  const text: string;
  export default text;
}
