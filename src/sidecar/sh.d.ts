// The sidecar's shell programs are .sh files next to their callers, which
// the bundler (and jest) load as text; shellcheck checks them in the lint run.
declare module '*.sh' {
  const text: string;
  export default text;
}
