// parts/subgroups.wgsl — put first in a kernel that uses subgroup operations (softmax-subgroup.wgsl):
// compiled only on devices with the 'subgroups' feature.
enable subgroups;
