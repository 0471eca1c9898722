"""Benchmark variants, FLOP counts and the Pareto front."""
import numpy as np
import pandas as pd
import pytest
import torch

from distill_utils import benchmark, machine, variants
from distill_utils.models import load_pretrained


@pytest.fixture(scope="module")
def tiny_model():
    model, tokenizer = load_pretrained("tiny-bert-teacher", seed=0)
    return model.eval(), tokenizer


def test_forward_flops_match_the_shapes():
    class Config:
        hidden_size, intermediate_size, num_hidden_layers, num_labels = 768, 3072, 12, 3

    n, d, f = 32, 768, 3072
    per_layer = 8 * n * d * d + 4 * n * n * d + 4 * n * d * f
    expected = 12 * per_layer + 2 * (d * d + 3 * d)
    assert benchmark.forward_flops(Config, n) == expected
    assert benchmark.forward_flops(Config, n, batch_size=4) == 4 * expected
    assert expected / 1e9 == pytest.approx(5.47, abs=0.01)  # BERT-base: ~0.17 GFLOP per token


def test_matmul_peak_is_positive():
    assert machine.matmul_peak_gflops(torch.float32, size=256, repeats=3) > 0


@pytest.mark.parametrize("variant, atol", [("fp32", 0), ("bf16", 0.1), ("int8-dynamic", 0.1),
                                           ("onnx-fp32", 1e-4), ("onnx-int8", 0.1)])
def test_every_variant_reproduces_the_fp32_logits(tiny_model, tmp_path, variant, atol):
    model, tokenizer = tiny_model
    batch = dict(tokenizer(["Operating profit rose .", "Net sales decreased by 5 % in the quarter ."],
                           padding=True, return_tensors="pt"))
    with torch.inference_mode():
        reference = model(**batch).logits.numpy()
    try:
        runner = variants.build_variant(model, tokenizer, variant, export_dir=tmp_path, threads=1)
    except variants.VariantUnavailable as reason:
        pytest.skip(str(reason))
    assert np.allclose(runner.forward(batch), reference, atol=atol)


def test_unavailable_variant_is_reported_not_hidden(tiny_model, monkeypatch):
    from distill_utils import variants

    model, tokenizer = tiny_model
    monkeypatch.setattr(variants, "mixed_precision", lambda requested=True: "no")
    with pytest.raises(variants.VariantUnavailable, match="no bf16 instructions"):
        variants.build_variant(model, tokenizer, "bf16")
    with pytest.raises(ValueError, match="unknown variant 'fp8'"):
        variants.build_variant(model, tokenizer, "fp8")
    test = pd.DataFrame({"sentence": ["Profit rose ."], "label": [2]})
    record = benchmark.PerformanceBenchmark(model, tokenizer, test, "tiny", variant="bf16",
                                            latency_runs=2, throughput_batches=1).run_benchmark()
    assert record["skipped"].startswith("this CPU has no bf16") and "accuracy" not in record


def test_pareto_front():
    table = pd.DataFrame({"latency_ms_median": [10.0, 5.0, 1.0, 6.0, np.nan],
                          "accuracy": [0.97, 0.95, 0.90, 0.94, np.nan],
                          "skipped": [None, None, None, None, "no onnxruntime"]})
    assert benchmark.pareto_front(table).tolist() == [True, True, True, False, False]


@pytest.mark.parametrize("args, message", [
    (["--threads", "0"], "threads must be a positive integer"),
    (["--threads", "-1"], "threads must be a positive integer"),
    (["--variants", "fp32,fp8"], "variants: unknown 'fp8'"),
    (["--seed", "7"], "splits.json is missing: run notebooks/01_dataset_exploration.ipynb first"),
    (["--seed", "7", "--variants", "fp32"], "model.safetensors is missing: run notebooks/04_student_training.ipynb"),
])
def test_benchmark_command_line_names_a_bad_argument(args, message, tmp_path, capsys):
    if "--variants" in args:  # a complete-enough run (seed 42), so the variants or seed check fails
        from distill_utils.artifacts import Artifacts

        art = Artifacts(tmp_path)
        art.splits.parent.mkdir(parents=True)
        art.splits.write_text('{"test": {"sentence": [], "label": []}}')
        for name in ("tiny-bert-cut", "tiny-bert-random", "tiny-bert-copy"):
            for mode in ("kd", "plain"):
                folder = art.student(name, mode, 42)
                folder.mkdir(parents=True)
                (folder / "model.safetensors").write_bytes(b"w")
                (folder / "run.json").write_text("{}")
    with pytest.raises(SystemExit):
        benchmark.main(["--profile", "smoke", "--artifacts-dir", str(tmp_path), *args])
    err = capsys.readouterr().err
    assert message in err
    if "7" in args and "--variants" in args:  # a missing seed's error lists the students that exist
        assert "Trained students: tiny-bert-copy/kd-seed42, tiny-bert-copy/plain-seed42, " in err


@pytest.mark.parametrize("variant, measured", [("fp32", True), ("int8-dynamic", False)])
def test_a_share_of_peak_is_given_only_against_a_ceiling_measured_for_that_kernel(tiny_model, variant, measured):
    """Issue 33: ONNX fp32 reached "154% of the fp32 peak": a peak that is exceeded is the wrong
    yardstick. Only torch's own fp32 and bf16 rows are set against the matmul ceiling measured for
    them; int8 and ONNX Runtime rows carry none."""
    model, tokenizer = tiny_model
    test = pd.DataFrame({"sentence": ["Profit rose ."], "label": [2]})
    record = benchmark.PerformanceBenchmark(model, tokenizer, test, "tiny", variant=variant, latency_runs=2,
                                            throughput_batches=1, peaks={"fp32": 100.0, "bf16": 200.0}).run_benchmark()
    assert (record["peak_gflops"] == 100.0) if measured else record["peak_gflops"] is None
    assert record["peak_basis"] == ("fp32 matmul" if measured else "none measured for this engine and dtype")
