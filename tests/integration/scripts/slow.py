import time

print("slow start")
time.sleep(float(attachpy_args[0]) if attachpy_args else 5.0)
print("slow end")
