// Run a Python script with the CPython interpreter that Pyodide ships (CPython compiled to
// WebAssembly), the host's file system mounted at /host. tools/build/bytecode.py uses it to
// compile .pyc for a Python version the build host does not have.
//
//   node pyodide_run.mjs <pyodide dir> <script> <arg>...   (absolute host paths)
//
// Arguments that are absolute paths existing on the host are rewritten to /host/... (others,
// like the /var/task prefix recorded in the code objects, pass unchanged); the exit code is the
// script's.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [pyodideDir, script, ...args] = process.argv.slice(2);
const { loadPyodide } = await import(pathToFileURL(join(pyodideDir, "pyodide.mjs")).href);
const pyodide = await loadPyodide({
  indexURL: pyodideDir + "/",
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});
pyodide.FS.mkdirTree("/host");
pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: "/" }, "/host");
const host = (path) => (path.startsWith("/") && existsSync(path) ? "/host" + path : path);
pyodide.globals.set("script_argv", [host(script), ...args.map(host)]);
const code = pyodide.runPython(`
import runpy, sys
sys.argv = list(script_argv)
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
    status = 0
except SystemExit as stop:
    status = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
status
`);
process.exit(code);
