"""`plantctl demo` (`make demo`): the whole story of the sample plant, one headed section per step.

The story (story.py) runs what a newcomer would run by hand and says what each step proves: the
inventory checked and judged, its lab up for real (stack.py: the Pulumi lab stack of the site
on a copy of the sample), the lab verified, the gateways booted and converged through the
bastion by Ansible (gateways.py), the collectors reading the PLC simulators and their values
reaching the broker's data-class roles (data_path.py), a maintenance pull request judged
(pull_request.py), a vendor grant inside and after its window (vendor.py), the evidence pack and
the governance review, and the lab down again. Without root the lab's steps say they need it.
"""
