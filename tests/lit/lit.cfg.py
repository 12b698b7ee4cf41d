# lit configuration for Conveyor: tools, substitutions and the test suffixes.
import os

import lit.formats

config.name = "Conveyor"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".test"]
# Generator scripts and their binary outputs live in Inputs/ folders; they are not tests.
config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py"]

config.test_source_root = config.conveyor_lit_source_dir
config.test_exec_root = config.conveyor_lit_binary_dir

# Tests run the tools of this build only, never whatever is on PATH.
config.environment["PATH"] = os.pathsep.join(
    [config.conveyor_tools_dir, os.path.dirname(config.filecheck_path),
     config.environment.get("PATH", "")])


def tool(name):
    return os.path.join(config.conveyor_tools_dir, name)


# Longer names first: lit substitutes in order, and "conveyor" is a prefix of the others.
config.substitutions.append(("%models", os.path.join(config.conveyor_source_dir, "models")))
config.substitutions.append(("%python", config.python_executable))
for name in ["conveyor-translate", "conveyor-opt"]:
    config.substitutions.append((r"\b%s\b" % name, tool(name)))
config.substitutions.append((r"(?<![-/\w])conveyor(?![-\w])", tool("conveyor")))
config.substitutions.append((r"\bFileCheck\b", config.filecheck_path))
config.substitutions.append((r"(?<![-\w])not(?![-\w])", config.not_path))

# Regenerating fixtures needs Debian's python3-onnx (and python3-torch for the tiny models).
# They are not build dependencies: tests that regenerate fixtures declare
# `REQUIRES: python-onnx` and are reported UNSUPPORTED where it is missing.
import subprocess

if subprocess.call([config.python_executable, "-c", "import onnx, numpy"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0:
    config.available_features.add("python-onnx")
if subprocess.call([config.python_executable, "-c", "import onnx, numpy, torch"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0:
    config.available_features.add("python-torch")

# Gnuplot draws the compare/explore report plots; tests of the SVGs need it
import shutil

if shutil.which("gnuplot"):
    config.available_features.add("gnuplot")

# Reading schedules from Python needs python3-protobuf and protoc
if shutil.which("protoc") and subprocess.call(
        [config.python_executable, "-c", "import google.protobuf"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0:
    config.available_features.add("python-protobuf")
