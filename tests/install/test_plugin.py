"""A study from another package (tests/plugin, entry point ``theorylab.studies``) through list, run,
check (on the default local dask cluster, whose workers find the plugin too), reproduce and the explorer."""


def test_list_and_run(venv, listing):
    assert "coin/flips" in listing and "claim coin.frequency (derived)" in listing
    out = venv.theorylab("run", "coin/flips", "--set", "flips=50", "--executor", "serial").stdout
    assert "fraction" in out and "flips:" in out


def test_check_on_a_local_cluster_writes_under_a_new_root(venv):
    done = venv.theorylab("check", "--study", "coin", "--scale", "quick", "--workers", "1",
                          "--root", "new/out")
    assert "all claims pass" in done.stdout
    table = (venv.work / "new" / "out" / "paper" / "claims" / "coin.md").read_text()
    assert "coin.frequency" in table and "PASS" in table


def test_reproduce_puts_its_section_in_the_report(venv):
    venv.theorylab("reproduce", "--study", "coin", "--scale", "quick", "--executor", "serial",
                   "--root", "report")
    md = (venv.work / "report" / "paper" / "paper.md").read_text()
    assert "## A coin, flipped" in md and "Figure coin.1" in md
    assert "Bernoulli" in (venv.work / "report" / "paper" / "paper.bib").read_text()


def test_explorer_runs_the_plugin_page(explorer):
    assert "[coin](/coin)" in explorer["landing"]
    assert "coin.frequency" in explorer["claims"] and "PASS" in explorer["claims"] and explorer["png"]
