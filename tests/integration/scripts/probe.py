# Injected by the integration tests: reports what the code sees.
import sys
import __main__

print("probe-name", __name__)
print("probe-file", __file__)
print("probe-args", repr(attachpy_args))
print("probe-mark", getattr(__main__, "TARGET_MARK", None))
print("probe-version", "%d.%d.%d" % sys.version_info[:3])
sys.stderr.write("probe-stderr\n")
