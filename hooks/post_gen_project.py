"""Finish a generated project: prune empty directories, then make it a git repository.

Standard library only, safe to re-run. Which files exist is decided by their names in the
template, never here. Missing tools are warned about, never fatal.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path


def prune_empty_dirs(root):
    """Remove directories left empty by optional files whose names rendered empty."""
    for current, _dirs, _files in os.walk(root, topdown=False):
        path = Path(current)
        if path == root or ".git" in path.relative_to(root).parts:
            continue
        if not any(path.iterdir()):
            path.rmdir()


def git(*args, cwd):
    """Run one git command quietly; return True when it succeeded."""
    result = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, encoding="utf-8"
    )
    return result.returncode == 0


def init_git(root, author_name, author_email):
    """Create the repository with a first commit (DVC and pre-commit need one)."""
    if shutil.which("git") is None:
        print("WARNING: git not found: the project is not a git repository yet.")
        print("         Run 'git init' before 'make install' (DVC and pre-commit need it).")
        return
    if (root / ".git").exists():
        return
    if not git("init", "--quiet", cwd=root):
        print("WARNING: 'git init' failed: initialise the repository by hand.")
        return
    git("checkout", "--quiet", "-b", "main", cwd=root)
    identity = []
    if not git("config", "user.email", cwd=root):
        identity = ["-c", f"user.name={author_name}", "-c", f"user.email={author_email}"]
    committed = git("add", "--all", cwd=root) and git(
        *identity,
        "commit",
        "--quiet",
        "--no-verify",
        "--message",
        "Initial commit from the MLOps template",
        cwd=root,
    )
    if not committed:
        print("WARNING: the first commit failed: commit the generated files by hand.")


def main(author_name, author_email, new_project=True):
    """Run inside the project directory (cookiecutter's working directory)."""
    root = Path.cwd()
    prune_empty_dirs(root)
    if new_project:
        init_git(root, author_name, author_email)


if __name__ == "__main__":
    # Other engines run this file unrendered and pass the author (copier's _tasks, see
    # copier.yml). `copier update` adds --update: the project and its repository exist
    # (possibly as a subdirectory of a larger one), only directories left empty by
    # switched-off components are pruned.
    if len(sys.argv) == 3 or (len(sys.argv) == 4 and sys.argv[3] == "--update"):
        main(sys.argv[1], sys.argv[2], new_project=len(sys.argv) == 3)
    elif len(sys.argv) > 1:
        sys.exit("usage: post_gen_project.py AUTHOR_NAME AUTHOR_EMAIL [--update]")
    else:
        main({{ cookiecutter.author_name | tojson }}, {{ cookiecutter.author_email | tojson }})
