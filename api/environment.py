"""The process environment Parley runs in: offline, telemetry off, thread pools sized for small machines.

Applied before Haystack, Chroma or Tesseract are imported or started, since some of them read it only once.
"""

OFFLINE_ENVIRONMENT = {
    "HAYSTACK_TELEMETRY_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "OMP_THREAD_LIMIT": "1",  # Tesseract's OpenMP oversubscribes small machines tenfold without it
    "TOKENIZERS_PARALLELISM": "false",
}
