"""``theorylab new`` on a fresh install: the generated study's own tests pass without installing it."""


def test_new_study_passes_its_tests(venv):
    out = venv.theorylab("new", "demo", "--path", "projects").stdout
    project = venv.work / "projects" / "demo"
    assert "wrote projects/demo" in out
    done = venv.run(venv.python, "-m", "pytest", "-v", "-p", "no:cacheprovider", cwd=project)
    for test in ("test_claim_holds_at_quick_scale[demo.clt-rate]",  # the study contract ran, with
                 "test_claim_fails_on_a_corrupted_dataset[demo.clt-variance]",  # negative controls,
                 "test_golden_values", "test_kernel_matches_numpy_twin[1.0]",  # golden values, the twin
                 "test_bad_parameters_raise_naming_them[MonteCarloParams-t-0]"):
        assert f"{test} PASSED" in done.stdout, test
    assert "failed" not in done.stdout.splitlines()[-1]
