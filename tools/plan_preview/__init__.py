"""Plan preview: a saved Terraform plan as the Markdown comment a pull request gets.

The comment gives a one-line verdict, the counts, the resource changes grouped by module
(destroys and replacements first, with the attributes that force a replacement), readable diffs
of JSON documents (IAM and resource policies, security group rules, any attribute holding JSON),
the output changes and the plain-text plan folded in ``<details>``. Sensitive values are never
printed, whatever the nesting level; values Terraform cannot know yet read ``(known after
apply)``. The whole comment stays under GitHub's 65,536 character limit. Standard library only.

Modules, in the order the data flows:

- ``masking``: sensitive and unknown values replaced before anything can print them;
- ``model`` and ``parse``: ``terraform show -json`` output as a typed plan model;
- ``markdown``: escaping, table cells, JSON diffs;
- ``summary``, ``tables``, ``details``: the comment's sections;
- ``render``: the whole comment, fitted to the size limit, and the "plan failed" comment;
- ``cli``: ``python -m tools.plan_preview`` (render a saved plan);
- ``ci``: ``python -m tools.plan_preview.ci`` (plan, render and publish, for CI and
  ``make plan-preview``).
"""
